/**
 * Bad input from the user (a target spec, a port list, a flag, a file): the CLI prints the
 * message alone — one line, no stack trace — and exits 1. The message must quote the bad token
 * and say what would be accepted.
 */
export class UserInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserInputError';
  }
}
