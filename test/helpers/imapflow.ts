/**
 * imapflow answers `false` instead of throwing when a command fails (fetchOne,
 * append, messageCopy, messageMove, status). A test that expects an answer
 * takes it through `answered`, which fails with the command's name otherwise.
 */
export function answered<T>(result: T | false, command: string): T {
  if (result === false) throw new Error(`imapflow ${command} failed (returned false)`);
  return result;
}
