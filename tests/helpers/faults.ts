/**
 * Fault injection through the SDK clients the service uses: the only mocking the tests do.
 * Every other command goes to the emulators as usual.
 */
type Client = { send: (...args: never[]) => unknown };
type CommandType = abstract new (...args: never[]) => unknown;

function intercept(
  prototype: Client,
  onCommand: (command: unknown, send: () => Promise<unknown>) => Promise<unknown>,
) {
  const original = prototype.send as (...args: unknown[]) => Promise<unknown>;
  return jest.spyOn(prototype, 'send').mockImplementation(function (
    this: unknown,
    ...args: unknown[]
  ) {
    return onCommand(args[0], () => original.apply(this, args));
  } as never);
}

export const injectedFault = () =>
  Object.assign(new Error('injected fault'), { name: 'InternalError' });

/**
 * Counts commands of a type, failing the n-th (`failOn`), or every one while `failAll()`
 * says so.
 */
export function faultOn(
  prototype: Client,
  commandType: CommandType,
  { failOn, failAll }: { failOn?: number; failAll?: () => boolean } = {},
) {
  const seen = { count: 0 };
  intercept(prototype, (command, send) => {
    if (!(command instanceof commandType)) return send();
    seen.count++;
    if (seen.count === failOn || failAll?.()) return Promise.reject(injectedFault());
    return send();
  });
  return seen;
}

/** Runs `action` right after the first command of a type succeeds, then stops intercepting. */
export function afterFirst(
  prototype: Client,
  commandType: CommandType,
  action: () => Promise<void>,
) {
  const spy = intercept(prototype, async (command, send) => {
    const result = await send();
    if (command instanceof commandType) {
      spy.mockRestore();
      await action();
    }
    return result;
  });
}

/**
 * Holds the first command of a type that `matches` until `release()` resolves (a slow S3
 * call, at a moment the test chooses), then sends it. Counts every matching command.
 */
export function holdFirst<C>(
  prototype: Client,
  commandType: abstract new (...args: never[]) => C,
  matches: (command: C) => boolean,
  release: () => Promise<void>,
) {
  const seen = { count: 0 };
  intercept(prototype, async (command, send) => {
    if (!(command instanceof commandType) || !matches(command)) return send();
    seen.count++;
    if (seen.count === 1) await release();
    return send();
  });
  return seen;
}

/**
 * Answers commands of a type with `answer(command)` instead of sending them, while it returns
 * a value (a throttled reply, say); sends them as usual once it returns undefined.
 */
export function answerWhile<C>(
  prototype: Client,
  commandType: abstract new (...args: never[]) => C,
  answer: (command: C, seen: number) => unknown,
) {
  const seen = { count: 0 };
  intercept(prototype, async (command, send) => {
    if (!(command instanceof commandType)) return send();
    seen.count++;
    const reply = answer(command, seen.count);
    return reply === undefined ? send() : reply;
  });
  return seen;
}
