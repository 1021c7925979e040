import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diskReserveConstants } from '../../src/compile/script-constants.js';

const schema = JSON.parse(readFileSync(new URL('../../schema/plan.schema.json', import.meta.url), 'utf8')) as {
  properties: { recovery: { properties: { diskReserve: { pattern: string } } } };
};
const pattern = new RegExp(schema.properties.recovery.properties.diskReserve.pattern);
const valueOf = (reserve: string | null) => Object.fromEntries(diskReserveConstants(reserve).map((c) => [c.name, c.value]));

describe('recovery.diskReserve', () => {
  it('the schema takes a share below 100% or a size in MiB/GiB/TiB, nothing else', () => {
    for (const ok of ['5%', '0%', '2.5%', '99.99%', '500MiB', '2GiB', '1TiB']) expect(pattern.test(ok), ok).toBe(true);
    for (const bad of ['100%', '5', '5 %', '-1%', '2GB', '0MiB', '5%%', '1.234%', '2gib']) expect(pattern.test(bad), bad).toBe(false);
  });

  it('compiles to a kind and an integer value for bash', () => {
    expect(valueOf(null)).toMatchObject({ DISK_RESERVE_KIND: 'default', DISK_RESERVE_VALUE: '' });
    expect(valueOf('5%')).toMatchObject({ DISK_RESERVE_KIND: 'percent', DISK_RESERVE_VALUE: '500', DISK_RESERVE_TEXT: '5%' });
    expect(valueOf('2.5%')).toMatchObject({ DISK_RESERVE_KIND: 'percent', DISK_RESERVE_VALUE: '250' });
    expect(valueOf('0.07%')).toMatchObject({ DISK_RESERVE_KIND: 'percent', DISK_RESERVE_VALUE: '7' });
    expect(valueOf('2GiB')).toMatchObject({ DISK_RESERVE_KIND: 'bytes', DISK_RESERVE_VALUE: '2147483648' });
    expect(valueOf('999999TiB')).toMatchObject({ DISK_RESERVE_KIND: 'bytes', DISK_RESERVE_VALUE: (999999n << 40n).toString() });
  });
});
