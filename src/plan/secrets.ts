/**
 * Secrets never belong in a plan: plans are committed, reviewed in pull requests and
 * copied into plan.json next to the scripts. A plan names the environment variable
 * that holds each secret instead. This scan runs on any parsed document, even one the
 * schema rejects, because a pasted webhook URL usually also breaks the schema (an
 * unknown "webhookUrl" field) and the secret is the more important thing to say.
 */
import { pointerFromSegments } from './load.js';
import type { PlanIssue } from './semantic-rules.js';

interface SecretShape {
  what: string;
  pattern: RegExp;
}

const SECRET_SHAPES: readonly SecretShape[] = [
  { what: 'a Slack webhook URL', pattern: /https?:\/\/hooks\.slack\.com\//i },
  // A short word after "Bearer" is prose ("Bearer token for ..."), a long one a token.
  { what: 'a bearer token', pattern: /\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*/i },
  { what: 'a URL with a password in it', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:[^\s/@]+@/i },
  { what: 'an AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
];

export function findInlineSecrets(value: unknown): PlanIssue[] {
  return stringLeaves(value, []).flatMap(({ path, text }) => {
    const shape = SECRET_SHAPES.find((candidate) => candidate.pattern.test(text));
    if (!shape) return [];
    const pointer = pointerFromSegments(path);
    return [{ pointer, message: `this looks like ${shape.what}, a secret; ${whereSecretsGo(pointer)}` }];
  });
}

/** Advice fitting the part of the plan the secret was found in. */
function whereSecretsGo(pointer: string): string {
  if (pointer.startsWith('/notify/')) {
    return 'put it in an environment variable and name the variable in notify.slack.webhookUrlEnv';
  }
  if (pointer.startsWith('/verify/http/')) {
    return 'put the credential in an environment variable and name the variable in bearerTokenEnv (sent as a bearer token)';
  }
  if (pointer.startsWith('/source/')) {
    return 'remove it: the aws CLI reads credentials from its environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), a profile or the instance role';
  }
  return 'put it in an environment variable and name the variable (notify.slack.webhookUrlEnv, verify.http[].bearerTokenEnv)';
}

function stringLeaves(value: unknown, path: (string | number)[]): { path: (string | number)[]; text: string }[] {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringLeaves(item, [...path, index]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => stringLeaves(item, [...path, key]));
  }
  return [];
}
