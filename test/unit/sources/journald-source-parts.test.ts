import { describe, expect, it } from 'vitest';
import { cursorOf } from '../../../agent/sources/journald/journal-cursor.js';
import { isJournalPosition } from '../../../agent/sources/journald/journal-position.js';
import { journalctlArgs } from '../../../agent/sources/journald/journalctl-args.js';
import { RestartBackoff } from '../../../agent/sources/journald/restart-backoff.js';
import { constructedLines, corpusLine, corpusLines } from '../../helpers/corpus-lines.js';

const JSON_FILE = 'journald/apparmor.d-testdata-systemd.journal.json';
const FILTER = ['_TRANSPORT=audit', '_TRANSPORT=kernel'];
const BASE = ['--follow', '--output=json', '--no-pager', '--quiet', '--all'];

describe('journal cursors in json lines', () => {
  it('reads the __CURSOR of a real journalctl -o json line', () => {
    expect(cursorOf(corpusLine(JSON_FILE, 1))).toBe(
      's=b08dfa6083e7567a1921a715000001fb;i=5fb1;b=b08dfa6083e7567a1921a715000001fb;m=43e952;t=5e639599a6630;x=83188ca2cb9a0a03',
    );
  });

  it('reads the cursor of every entry of the corpus file that has one, wherever the key sits', () => {
    const cursors = corpusLines(JSON_FILE).map(cursorOf);
    expect(cursors.map((c) => c?.match(/;i=([0-9a-f]+);/)?.[1])).toEqual([
      '5fb1',
      '5fb2',
      '65a6',
      '6467',
      '6468',
      '6469',
      '559d',
      '55dd',
      '58c7',
      '58dc',
      '59fa',
      '5a22',
      '46022',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('finds no cursor in an entry without one', () => {
    expect(cursorOf(constructedLines('journald-audit-transport.json')[0] ?? '')).toBeUndefined();
  });

  it('finds no cursor when the key appears only inside a quoted message', () => {
    expect(cursorOf('{"MESSAGE":"x \\"__CURSOR\\":\\"forged\\" y"}')).toBeUndefined();
  });
});

describe('journalctl arguments', () => {
  it('follows only new entries of both kernel transports when there is no checkpoint', () => {
    expect(journalctlArgs({})).toEqual([...BASE, '--lines=0', ...FILTER]);
  });

  it('resumes after a handled entry with --after-cursor and reads every entry since (--no-tail)', () => {
    expect(journalctlArgs({ position: { cursor: 's=1;i=2', inclusive: false } })).toEqual([
      ...BASE,
      '--no-tail',
      '--after-cursor=s=1;i=2',
      ...FILTER,
    ]);
  });

  it('resumes at an entry still to be read with --cursor', () => {
    expect(journalctlArgs({ position: { cursor: 's=1;i=2', inclusive: true } })).toEqual([
      ...BASE,
      '--no-tail',
      '--cursor=s=1;i=2',
      ...FILTER,
    ]);
  });

  it('continues from the first start time, to the microsecond, when no entry was read before a restart', () => {
    expect(journalctlArgs({ sinceMicros: 1795869792957042 })).toEqual([
      ...BASE,
      '--no-tail',
      '--since=@1795869792.957042',
      ...FILTER,
    ]);
  });

  it('reads a journal directory when one is given', () => {
    expect(journalctlArgs({ directory: '/host/var/log/journal' })).toEqual([
      ...BASE,
      '--directory=/host/var/log/journal',
      '--lines=0',
      ...FILTER,
    ]);
  });
});

describe('restart backoff', () => {
  it('doubles the delay after each quick exit, up to the maximum, with jitter between half and all of it', () => {
    const low = new RestartBackoff(250, 4000, 10_000, () => 0);
    expect([0, 0, 0, 0, 0, 0, 0].map((ran) => low.next(ran))).toEqual([
      125, 250, 500, 1000, 2000, 2000, 2000,
    ]);
    const high = new RestartBackoff(250, 4000, 10_000, () => 1);
    expect([0, 0, 0].map((ran) => high.next(ran))).toEqual([250, 500, 1000]);
  });

  it('starts over after a child that ran long enough to count as healthy', () => {
    const b = new RestartBackoff(250, 4000, 10_000, () => 1);
    expect([0, 0, 0, 10_000].map((ran) => b.next(ran))).toEqual([250, 500, 1000, 250]);
  });
});

describe('journal checkpoints', () => {
  it.each([
    [{ cursor: 's=1;i=2', inclusive: false }, true],
    [{ cursor: 's=1;i=2', inclusive: true }, true],
    [{ cursor: '', inclusive: false }, false],
    [{ cursor: 's=1' }, false],
    ['s=1', false],
  ])('accepts %j: %s', (value, ok) => {
    expect(isJournalPosition(value)).toBe(ok);
  });
});
