// The side instance's settings, per PostgreSQL major (13..18): every setting that runs a
// command, reaches outside workDir or sizes memory gets the side instance's own value,
// and only settings the major knows are written (an unknown name in postgresql.auto.conf
// stops the server at start-up). Where a real server is installed, its own list of
// settings (postgres --describe-config) is the judge: Debian's PostgreSQL 15 always, and
// other majors' server binaries when PITR_TEST_PG_BINDIRS names them
// (e.g. "13=/opt/pg13/bin 16=/opt/pg16/bin").

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoveryConfBlock, sideConfigText } from '../../src/compile/recovery-config.js';
import { SIZED_SETTINGS, sideSettings, settingExistsIn } from '../../src/compile/side-settings.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';
import { loadExamplePlan } from './compiler-helpers.js';

const MAJORS = [13, 14, 15, 16, 17, 18] as const;

function planFor(major: number, target: Partial<NormalizedPlan['target']> = {}): NormalizedPlan {
  const base = loadExamplePlan('realestateos-docker');
  return { ...base, postgres: { ...base.postgres, version: major }, target: { ...base.target, ...target } };
}

const PATHS = { workDir: '/srv/recovery work', restore: '/srv/recovery work/bin/restore-wal.sh', socket: '/srv/recovery work/run', pid: '/srv/recovery work/side-instance.pid' };

function settingsOf(plan: NormalizedPlan): Map<string, string> {
  const block = recoveryConfBlock(plan, PATHS.restore, PATHS.socket, PATHS.pid, false);
  const map = new Map<string, string>();
  for (const line of block.split('\n')) {
    const m = /^([a-z_]+) = (.*)$/.exec(line);
    expect(m, `not a setting line: ${line}`).not.toBeNull();
    expect(map.has(m![1]!), `${m![1]} written twice`).toBe(false);
    map.set(m![1]!, m![2]!);
  }
  return map;
}

/** The settings a real server binary knows (postgres --describe-config), or null. */
function knownSettings(postgres: string): Set<string> | null {
  if (!existsSync(postgres)) return null;
  const result = spawnSync(postgres, ['--describe-config'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  return new Set(result.stdout.split('\n').map((l) => l.split('\t')[0]!).filter((n) => /^[a-z_]+$/.test(n)));
}

function realServers(): { major: number; postgres: string }[] {
  const servers = [{ major: 15, postgres: '/usr/lib/postgresql/15/bin/postgres' }];
  for (const word of (process.env.PITR_TEST_PG_BINDIRS ?? '').split(/\s+/).filter(Boolean)) {
    const [major, dir] = word.split('=');
    servers.push({ major: Number(major), postgres: join(dir!, 'postgres') });
  }
  return servers;
}

describe.each(MAJORS)('side instance settings on PostgreSQL %i', (major) => {
  const settings = settingsOf(planFor(major));

  it('neutralises every setting that runs a command or reaches another server', () => {
    expect(settings.get('archive_cleanup_command')).toBe("''");
    expect(settings.get('recovery_end_command')).toBe("''");
    expect(settings.get('archive_mode')).toBe('off');
    expect(settings.get('archive_command')).toBe("''");
    expect(settings.get('primary_conninfo')).toBe("''");
    expect(settings.get('primary_slot_name')).toBe("''");
    expect(settings.get('recovery_min_apply_delay')).toBe('0');
    expect(settings.get('ssl')).toBe('off');
    // Ours, reading the plan's archive through workDir.
    expect(settings.get('restore_command')).toContain('restore-wal.sh');
  });

  it('gives it its own port, socket, pid file, name, memory and log', () => {
    expect(settings.get('port')).toBe('5433');
    expect(settings.get('listen_addresses')).toBe("''");
    expect(settings.get('unix_socket_directories')).toBe(`'${PATHS.socket}'`);
    expect(settings.get('external_pid_file')).toBe(`'${PATHS.pid}'`);
    expect(settings.get('cluster_name')).toBe("'pitr-side-realestateos-docker'");
    expect(settings.get('huge_pages')).toBe('off');
    expect(settings.get('logging_collector')).toBe('off');
    expect(settings.get('log_destination')).toBe("'stderr'");
    expect(settings.get('lc_messages')).toBe("'C'");
    expect(settings.get('temp_tablespaces')).toBe("''");
    expect(settings.get('hot_standby')).toBe('on');
    expect(settings.get('recovery_target_action')).toBe("'pause'");
  });

  it('writes only the settings this major knows', () => {
    expect(settings.has('archive_library')).toBe(major >= 15);
    expect(settings.has('promote_trigger_file')).toBe(major <= 15);
    expect(settings.has('stats_temp_directory')).toBe(major <= 14);
    expect(settings.has('min_dynamic_shared_memory')).toBe(major >= 14);
    expect(settings.has('sync_replication_slots')).toBe(major >= 17);
    if (major <= 14) expect(settings.get('stats_temp_directory')).toBe("'pg_stat_tmp'");
    if (major >= 15) expect(settings.get('archive_library')).toBe("''");
  });

  it('names no path outside workDir (relative paths are inside the copy)', () => {
    for (const [name, value] of settings) {
      if (name === 'restore_command') continue;
      const path = /^'(\/.*)'$/.exec(value)?.[1];
      if (path !== undefined) expect(path.startsWith(`${PATHS.workDir}/`), `${name} = ${value}`).toBe(true);
    }
  });
});

describe('recovery targets', () => {
  it.each([
    ['time', 'recovery_target_time'],
    ['xid', 'recovery_target_xid'],
    ['lsn', 'recovery_target_lsn'],
    ['restorePoint', 'recovery_target_name'],
    ['immediate', 'recovery_target'],
  ] as const)('%s: every other kind of target is emptied before ours (two kinds stop the server)', (kind, ours) => {
    const value = { time: '2024-01-15T14:30:00+00:00', xid: '1234', lsn: '0/3000028', restorePoint: 'before', immediate: '' }[kind];
    const block = recoveryConfBlock(planFor(15, { kind, value }), PATHS.restore, PATHS.socket, PATHS.pid, false).split('\n');
    const names = block.map((l) => l.split(' = ')[0]!);
    const oursAt = names.indexOf(ours);
    expect(oursAt).toBeGreaterThan(-1);
    for (const other of ['recovery_target', 'recovery_target_lsn', 'recovery_target_name', 'recovery_target_time', 'recovery_target_xid'].filter((n) => n !== ours)) {
      const at = names.indexOf(other);
      expect(at, other).toBeGreaterThan(-1);
      expect(at, `${other} before ${ours}`).toBeLessThan(oursAt);
      expect(block[at]).toBe(`${other} = ''`);
    }
    expect(block[oursAt]).toBe(kind === 'immediate' ? "recovery_target = 'immediate'" : `${ours} = '${value}'`);
  });
});

describe('the memory and max_* settings are sized on the host', () => {
  it('lists each setting replay requires at least the primary\'s value of', () => {
    expect(SIZED_SETTINGS.map((s) => s.name)).toEqual([
      'shared_buffers', 'max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction',
    ]);
  });
});

describe('Debian layout: the side config directory', () => {
  it('includes production\'s postgresql.conf first, so the lines after it (and postgresql.auto.conf) win', () => {
    const text = sideConfigText('/etc/postgresql/15/main/postgresql.conf', '/srv/w/data', '/srv/w/side-instance.pid').split('\n');
    expect(text[0]).toBe("include '/etc/postgresql/15/main/postgresql.conf'");
    expect(text.slice(1)).toEqual(["data_directory = '/srv/w/data'", "external_pid_file = '/srv/w/side-instance.pid'"]);
  });
});

describe.each(realServers())('a real PostgreSQL $major server knows every setting written for it', ({ major, postgres }) => {
  it(`${postgres} --describe-config lists every name`, (ctx) => {
    const known = knownSettings(postgres);
    if (known === null) ctx.skip();
    const plan = planFor(major);
    const written = sideSettings(plan, { restoreCommand: 'x', socketDir: '/w/run', pidFile: '/w/pid' }).map((s) => s.name);
    expect(written.filter((n) => !known!.has(n))).toEqual([]);
    expect(SIZED_SETTINGS.map((s) => s.name).filter((n) => !known!.has(n))).toEqual([]);
    // And the version table agrees with the server about the settings it gates.
    for (const name of ['archive_library', 'promote_trigger_file', 'stats_temp_directory', 'min_dynamic_shared_memory', 'sync_replication_slots']) {
      expect(settingExistsIn(name, major), name).toBe(known!.has(name));
    }
  });
});
