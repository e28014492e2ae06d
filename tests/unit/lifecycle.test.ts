import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LIFECYCLE, stateOf, type Transition } from '../../lib/domain/lifecycle';
import { guardedWrites } from '../scenarios/lifecycle';
import { inMemory } from '../scenarios/world';

// The table's from and to columns, held to what the guards and the writes do: every write
// allowed from a state the table lists leaves the file in a state it lists, and a refused
// one changes nothing.
const { states, calls } = guardedWrites(() => 'acme');

test('every transition but create and recordChunk has a guarded write here', () => {
  const covered = new Set<Transition>(calls.map(([name]) => name));
  const missing = Object.keys(LIFECYCLE).filter(
    (name) => !covered.has(name as Transition) && name !== 'create' && name !== 'recordChunk',
  );
  expect(missing).toEqual([]);
});

test.each(calls.map(([name, , call]) => [name, call] as const))(
  '%s: allowed only from the states the table lists, into the ones it lists',
  async (name, call) => {
    const row = LIFECYCLE[name];
    for (const [state, make] of Object.entries(states)) {
      const w = await inMemory();
      const before = make();
      if (state !== 'absent') await w.putRecord(before);
      const from = stateOf(state === 'absent' ? undefined : before);
      const written = await call(w, before);
      const after = await w.services.records.get({ companyId: 'acme', fileId: before.id });
      if (written.ok) {
        expect({ state, from: row.from.includes(from) }).toEqual({ state, from: true });
        const to = row.to === 'same' ? [from] : row.to;
        expect({ state, to: to.includes(stateOf(after) as never) }).toEqual({ state, to: true });
      } else {
        expect(after).toEqual(state === 'absent' ? undefined : before);
      }
    }
  },
);

test("the README's table is lifecycle.ts's", () => {
  const readme = readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
  const cells = (line: string) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
  const rows = readme
    .split('\n')
    .filter((line) => /^\| `\w+` +\|/.test(line) && cells(line).length === 4)
    .map(cells);
  const list = (values: readonly string[] | 'same') =>
    values === 'same' ? 'same' : values.join(', ');
  expect(rows).toEqual(
    Object.entries(LIFECYCLE).map(([name, row]) => [
      `\`${name}\``,
      list(row.from),
      list(row.to),
      list(row.guards),
    ]),
  );
});
