import { statfs } from 'node:fs/promises'

/** How `FileSystemBackend` reads entry files: on the event loop (`'sync'`) or in the thread pool. */
export type FileSystemReadMode = 'sync' | 'async'

/**
 * Linux `statfs` types (`f_type`) of filesystems where a read can wait for a server, a cluster
 * lock or a user-space daemon: network, cluster and FUSE filesystems, and hypervisor shares.
 */
const REMOTE_FILESYSTEM_TYPES: ReadonlySet<number> = new Set([
  0x6969, // NFS
  0x517b, // SMB (smbfs)
  0xff534d42, // CIFS
  0xfe534d42, // SMB2/SMB3
  0x564c, // NCP (NetWare)
  0x65735546, // FUSE and fuseblk: sshfs, s3fs, rclone, GlusterFS, virtiofs, NTFS-3G…
  0x01021997, // 9p: WSL 2 /mnt/c, QEMU and Docker shares
  0x00c36400, // Ceph
  0x0bd00bd0, // Lustre
  0x5346414f, // AFS (OpenAFS)
  0x6b414653, // AFS (kAFS)
  0x73757245, // Coda
  0x47504653, // IBM Spectrum Scale (GPFS)
  0x19830326, // BeeGFS (FhGFS)
  0xaad7aaea, // PanFS
  0x20030529, // OrangeFS (PVFS2)
  0xbeefdead, // StorNext
  0x01161970, // GFS2 (cluster)
  0x7461636f, // OCFS2 (cluster)
  0x786f4256, // VirtualBox shared folders
  0xbacbacbc, // VMware shared folders (vmhgfs)
])

/**
 * The read mode `reads: 'auto'` picks for a Linux filesystem type, the `type` of
 * `fs.statfs()` (`f_type`, e.g. `0xEF53` for ext4): `'async'` for network, cluster and FUSE
 * filesystems, whose reads may wait for a server; `'sync'` for the others (ext4, xfs, btrfs,
 * tmpfs, overlayfs…).
 *
 * @example
 * ```ts
 * import { statfs } from 'node:fs/promises'
 * readModeForFilesystem((await statfs('/mnt/nfs')).type) // 'async'
 * readModeForFilesystem(0xef53) // ext4: 'sync'
 * ```
 */
export function readModeForFilesystem(type: number | bigint): FileSystemReadMode {
  // f_type is a signed word: on a 32-bit system CIFS (0xFF534D42) comes back sign-extended.
  const magic = typeof type === 'bigint' ? Number(BigInt.asUintN(32, type)) : type >>> 0
  return REMOTE_FILESYSTEM_TYPES.has(magic) ? 'async' : 'sync'
}

/** What `reads: 'auto'` picks for `directory`: its filesystem's mode on Linux, `'async'` when unsure. */
export async function readModeOf(directory: string): Promise<FileSystemReadMode> {
  // Elsewhere f_type is not a Linux magic number (on macOS and the BSDs it is a registration index).
  if (process.platform !== 'linux' && process.platform !== 'android') return 'async'
  try {
    return readModeForFilesystem((await statfs(directory, { bigint: true })).type)
  } catch {
    return 'async'
  }
}
