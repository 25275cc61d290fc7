// Middy middleware: validate the event with a zod schema before the handler runs.
import type { MiddlewareObj } from '@middy/core';
import type { z } from 'zod';
import { InvalidInputError } from '../../core/errors.js';
import { problemsFrom } from '../../core/zod-problems.js';

export function parseInput<S extends z.ZodType>(schema: S, what: string): MiddlewareObj<unknown> {
  return {
    before: (request) => {
      const result = schema.safeParse(request.event);
      if (!result.success)
        throw new InvalidInputError(`Invalid input to the ${what} task`, problemsFrom(result.error));
      request.event = result.data;
    },
  };
}
