/**
 * Skips that name the missing component, so a skip can never hide a broken install.
 *
 * Every suite or test that skips because a host component is absent (podman, a Docker engine,
 * PostgreSQL binaries, redis-server, …) takes its `skip` option from {@link requireOrSkip}. The
 * reason then starts with `[requires <component>]`, which test/support/reporter.mjs reads:
 * it lists every skip with its reason in the summary, and when the component is named in
 * `BERTH_TEST_REQUIRE` (comma-separated; .ci/run sets it) it counts the skip as a failure that
 * names the component and the suites that would have been skipped, and the run exits non-zero.
 *
 * Skips by capability (the process runtime has no images or networks) are not missing
 * components: they keep a plain reason and stay skips.
 */

/** Components a suite may need from the host. `root` is for tests that mount filesystems. */
export type Component = 'podman' | 'docker' | 'postgres' | 'redis' | 'chromium' | 'nginx' | 'restic' | 'jupyter' | 'root';

/** The tag format the reporter parses; keep in step with `REQUIRES` in reporter.mjs. */
export const requiresTag = (component: Component): string => `[requires ${component}]`;

/**
 * The `skip` option for a suite or test that needs `component`: `false` when it is available,
 * otherwise `[requires <component>] <reason>`.
 */
export function requireOrSkip(component: Component, available: boolean, reason: string): string | false {
  return available ? false : missingReason(component, reason);
}

/** The skip reason for a component known to be missing (for skips decided inside a function). */
export function missingReason(component: Component, reason: string): string {
  return `${requiresTag(component)} ${reason}`;
}

/** The components `BERTH_TEST_REQUIRE` names (lower-cased, blanks dropped). */
export function requiredComponents(env: NodeJS.ProcessEnv = process.env): Set<string> {
  return new Set((env.BERTH_TEST_REQUIRE ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}
