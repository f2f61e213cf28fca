import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';

/**
 * OCI image-layout tarballs built by hand (no registry here): one layer made with `tar`, the config,
 * manifest and index written here, named by the `io.containerd.image.name` annotation so that
 * `ctr -n k8s.io images import` tags them. Layer and final tar are made with fixed owner and mtime.
 */

const run = promisify(execFile);

export interface OciImage {
  /** The name the image is imported under, e.g. localhost/busybox:1.35. */
  ref: string;
  /** The image id the CRI reports: `sha256:` + the config blob's digest. */
  imageId: string;
  tarPath: string;
}

export interface OciImageSpec {
  ref: string;
  /** A directory holding the root filesystem. */
  rootfs: string;
  entrypoint: string[];
  out: string;
  /** Scratch space; the blobs are written under it. */
  workDir: string;
}

const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];

export async function buildOciImageTar(spec: OciImageSpec): Promise<OciImage> {
  const layout = join(spec.workDir, 'oci');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });

  const layerTar = join(spec.workDir, 'layer.tar');
  await run('tar', [...TAR_FLAGS, '-C', spec.rootfs, '-cf', layerTar, '.']);
  const diffId = await sha256File(layerTar);
  const layerGz = join(spec.workDir, 'layer.tar.gz');
  await pipeline(createReadStream(layerTar), createGzip(), createWriteStream(layerGz));
  const layerDigest = await sha256File(layerGz);
  const layerSize = (await stat(layerGz)).size;
  await rename(layerGz, join(blobs, layerDigest));

  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Entrypoint: spec.entrypoint,
      WorkingDir: '/',
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'test/helpers/oci-image.ts' }],
  });
  const configDigest = await writeBlob(blobs, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${configDigest}`,
      size: Buffer.byteLength(config),
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: `sha256:${layerDigest}`,
        size: layerSize,
      },
    ],
  });
  const manifestDigest = await writeBlob(blobs, manifest);
  const colon = spec.ref.lastIndexOf(':');
  const tag = colon > spec.ref.lastIndexOf('/') ? spec.ref.slice(colon + 1) : 'latest';
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${manifestDigest}`,
          size: Buffer.byteLength(manifest),
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.ref, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await run('tar', [...TAR_FLAGS, '-C', layout, '-cf', spec.out, 'oci-layout', 'index.json', 'blobs']);
  return { ref: spec.ref, imageId: `sha256:${configDigest}`, tarPath: spec.out };
}

const PAUSE_SOURCE = fileURLToPath(new URL('./pause.c', import.meta.url));

/** The pod sandbox image: a static /pause built from test/helpers/pause.c. */
export async function buildPauseImage(ref: string, out: string, workDir: string): Promise<OciImage> {
  const rootfs = await emptyRootfs(workDir);
  await run('gcc', ['-O2', '-static', '-s', '-o', join(rootfs, 'pause'), PAUSE_SOURCE]);
  return buildOciImageTar({ ref, rootfs, entrypoint: ['/pause'], out, workDir });
}

/** Debian's static /bin/busybox with a symlink per applet; entrypoint /bin/sh. */
export async function buildBusyboxImage(ref: string, out: string, workDir: string): Promise<OciImage> {
  const rootfs = await emptyRootfs(workDir);
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  const { stdout } = await run(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n')) {
    if (applet !== '' && applet !== 'busybox') await symlink('busybox', join(rootfs, 'bin', applet));
  }
  await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  return buildOciImageTar({ ref, rootfs, entrypoint: ['/bin/sh'], out, workDir });
}

export const BUSYBOX = '/bin/busybox';

/**
 * Whether `path` is an ELF executable without a program interpreter (PT_INTERP): a dynamically linked
 * busybox would not run in an image that has no libc.
 */
export function isStaticElf(path: string): boolean {
  let elf: Buffer;
  try {
    elf = readFileSync(path);
  } catch {
    return false;
  }
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > elf.length) return false;
    if (elf.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}

async function emptyRootfs(workDir: string): Promise<string> {
  const rootfs = join(workDir, 'rootfs');
  for (const dir of ['proc', 'sys', 'dev', 'etc', 'tmp', 'bin'])
    await mkdir(join(rootfs, dir), { recursive: true });
  return rootfs;
}

async function writeBlob(blobs: string, content: string): Promise<string> {
  const digest = createHash('sha256').update(content).digest('hex');
  await writeFile(join(blobs, digest), content);
  return digest;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
