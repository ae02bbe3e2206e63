/**
 * Runs a daemon as its own process from BERTH_* env, printing `READY <url> <apps url>` on stdout once it
 * listens. Fault tests start it, then `kill -9` it.
 */
import { loadConfig } from '../../src/config/load.js';
import { startDaemon } from '../../src/daemon.js';
import { silentLogger, createLogger } from '../../src/log.js';

const daemon = await startDaemon(loadConfig(), process.env.BERTH_TEST_VERBOSE ? createLogger('debug') : silentLogger());
process.stdout.write(`READY ${daemon.url} ${daemon.appsUrl}\n`);
process.on('SIGTERM', () => void daemon.close().then(() => process.exit(0)));
