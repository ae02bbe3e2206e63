/**
 * Builds the image container tests run, without any registry (none is reachable here): a rootfs of
 * the host's static busybox with every applet linked, a page under /www for `httpd`, and a root
 * user, imported as `localhost/berth-test:latest`.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Name of the local test image. */
export const TEST_IMAGE = 'localhost/berth-test:latest';

/** What `GET /` answers from the image's `httpd -h /www`. */
export const TEST_IMAGE_BODY = 'berth-test-image-ok\n';

/** Static busybox from the busybox-static package; a dynamic one would need its libc in the rootfs. */
const BUSYBOX = '/bin/busybox';

/**
 * Ensures `localhost/berth-test:latest` exists for `bin` (podman or docker, same CLI) and returns
 * its name. Idempotent: skips the build when `<bin> image inspect` finds it. `env` is layered over
 * the current environment (e.g. `{ CONTAINERS_CONF }` so the test uses the driver's podman config).
 */
export async function ensureTestImage(bin = 'podman', env: NodeJS.ProcessEnv = {}): Promise<string> {
  return ensureImage(bin, env, TEST_IMAGE, {});
}

/** Where a variant image names itself: `cat /etc/berth-variant` prints the variant's marker. */
export const VARIANT_FILE = '/etc/berth-variant';

/**
 * A second local image, `localhost/berth-test-<variant>:latest`: the test image plus
 * {@link VARIANT_FILE} holding `<variant>\n`, so a test can tell which image a workload runs
 * (e.g. after `ws recreate --image`). Idempotent like ensureTestImage.
 */
export async function ensureTestImageVariant(variant: string, bin = 'podman', env: NodeJS.ProcessEnv = {}): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(variant)) throw new Error(`bad variant name ${variant}`);
  return ensureImage(bin, env, `localhost/berth-test-${variant}:latest`, { [VARIANT_FILE.slice(1)]: `${variant}\n` });
}

/** Builds `tag` from the busybox rootfs plus `extra` files (path relative to / → content), unless it exists. */
async function ensureImage(bin: string, env: NodeJS.ProcessEnv, tag: string, extra: Record<string, string>): Promise<string> {
  const fullEnv = { ...process.env, ...env };
  try {
    await execFileAsync(bin, ['image', 'inspect', tag], { env: fullEnv });
    return tag;
  } catch {
    // Not there yet: build it below.
  }
  const work = await mkdtemp(path.join(tmpdir(), 'berth-test-image-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    for (const dir of ['bin', 'www', 'tmp', 'etc', 'root']) await mkdir(path.join(rootfs, dir), { recursive: true });
    await copyFile(BUSYBOX, path.join(rootfs, 'bin/busybox'));
    const { stdout } = await execFileAsync(BUSYBOX, ['--list']);
    // Relative links keep the rootfs self-contained wherever it is unpacked.
    for (const applet of stdout.split('\n').map((s) => s.trim())) {
      if (applet && applet !== 'busybox') await symlink('busybox', path.join(rootfs, 'bin', applet));
    }
    await writeFile(path.join(rootfs, 'www/index.html'), TEST_IMAGE_BODY);
    await writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\n');
    for (const [file, content] of Object.entries(extra)) await writeFile(path.join(rootfs, file), content);
    const tarball = path.join(work, 'rootfs.tar');
    // --numeric-owner: the image must not depend on the host's user database.
    await execFileAsync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
    await execFileAsync(
      bin,
      ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/usr/local/bin:/bin', tarball, tag],
      { env: fullEnv },
    );
    return tag;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
