import { ErrorCode } from '@sovereign/contract';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { hashPassword } from './passwords.ts';
import { findUserByEmail, insertUser, type UserRow } from './store.ts';

/** Creates a user (sign-up, an administrator, the first start); the email is unique whatever its case. */
export async function createUser(
  tx: Queryable,
  passwordCostLog2: number,
  userId: string,
  input: { email: string; password: string; name?: string | undefined; isInstanceAdmin?: boolean },
): Promise<UserRow> {
  if ((await findUserByEmail(tx, input.email)) !== undefined) {
    throw new ConflictProblem(ErrorCode.emailTaken, 'A user with that email already exists.');
  }
  return insertUser(tx, {
    userId,
    email: input.email,
    name: input.name ?? '',
    passwordHash: await hashPassword(input.password, passwordCostLog2),
    isInstanceAdmin: input.isInstanceAdmin ?? false,
  });
}
