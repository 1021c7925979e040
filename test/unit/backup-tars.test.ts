import { describe, expect, it } from 'vitest';
import { backupTarSuffix, pickBackupTar } from '../../src/sources/decompress.js';

describe('base backup tars: the names pg_basebackup -Ft writes, as resolve and the scripts choose them', () => {
  it('takes .tar.gz, then .tar.zst, .tar.lz4, .tar (BACKUP_TAR_SUFFIXES in lib/archive.sh has the same order)', () => {
    expect(pickBackupTar(['b/x/base.tar.lz4', 'b/x/base.tar.zst'], 'b/x/base')).toBe('b/x/base.tar.zst');
    expect(pickBackupTar(['b/x/base.tar', 'b/x/base.tar.gz'], 'b/x/base')).toBe('b/x/base.tar.gz');
    expect(pickBackupTar(['b/x/base.tar'], 'b/x/base')).toBe('b/x/base.tar');
    expect(pickBackupTar(['b/x/base.tar.bz2', 'b/x/pg_wal.tar.gz'], 'b/x/base')).toBeNull();
  });

  it('reads the suffix of a tarball-layout object', () => {
    expect(backupTarSuffix('base/nightly-1.tar.zst')).toBe('.tar.zst');
    expect(backupTarSuffix('base/nightly-1.tar.lz4')).toBe('.tar.lz4');
    expect(backupTarSuffix('base/nightly-1.tar')).toBe('.tar');
    expect(backupTarSuffix('base/nightly-1.tar.bz2')).toBeNull();
  });
});
