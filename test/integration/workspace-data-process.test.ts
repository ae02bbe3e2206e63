/** Persistent workspace data on the process runtime (a host directory per volume): see test/support/workspace-data.ts. */
import { workspaceData } from '../support/workspace-data.js';

workspaceData('process', false);
