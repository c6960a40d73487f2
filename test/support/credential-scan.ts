import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { KubeObject } from '../../harness/kube-object';

/**
 * A scanner for default and hard-coded credentials: text rules for any file, and structural rules for
 * synthesized Kubernetes objects. Patterns are written so that this file does not match itself.
 */

export interface Finding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

interface TextRule {
  readonly name: string;
  readonly pattern: RegExp;
}

const SECRET_WORD = '(?:pass(?:word|wd)?|token|secret|api[_-]?key|credentials?)';

const TRIVIAL = '(?:admin|password|changeme|secret|grafana|prometheus|123456)';

export const TEXT_RULES: readonly TextRule[] = [
  // Grafana admin password set to a literal: env file or shell, quoted value, a cdk8s literal EnvValue, a YAML env value.
  { name: 'grafana-admin-literal', pattern: /GF_SECURITY_ADMIN_PASS[W]ORD=(?!["']?\$)[^\s"']+/ },
  { name: 'grafana-admin-literal', pattern: /GF_SECURITY_ADMIN_PASS[W]ORD["']?\s*:\s*["'][^"'$]/ },
  { name: 'grafana-admin-literal', pattern: /GF_SECURITY_ADMIN_PASS[W]ORD["']?\s*:\s*[\w.]*fromValue\(/ },
  { name: 'grafana-admin-literal', pattern: /name:\s*["']?GF_SECURITY_ADMIN_PASS[W]ORD["']?\s*\n\s*value:/ },
  // The admin password option of grafana.ini and of Helm values files, set to anything.
  { name: 'grafana-admin-literal', pattern: /\badmin_?pass[w]ord\s*[=:]\s*["']?(?![$"'\s])[^\s"']+/i },
  // Well-known defaults: the kube-prometheus-stack Grafana password, admin as both user and password, trivial passwords.
  { name: 'well-known-default', pattern: /prom[-]operator/i },
  { name: 'well-known-default', pattern: /\badmin[:/]admin\b/i },
  { name: 'well-known-default', pattern: new RegExp(`${SECRET_WORD}\\s*=\\s*["']?${TRIVIAL}["']?(?=[\\s,;)}]|$)`, 'im') },
  { name: 'well-known-default', pattern: new RegExp(`${SECRET_WORD}["']?\\s*:\\s*["']${TRIVIAL}["']`, 'im') },
  { name: 'well-known-default', pattern: new RegExp(`^\\s*[\\w-]*${SECRET_WORD}\\s*:\\s*${TRIVIAL}\\s*$`, 'im') },
  // A Secret created from a literal credential instead of a generated value.
  { name: 'secret-from-literal', pattern: new RegExp(`--from-literal=[\\w.-]*${SECRET_WORD}[\\w.-]*=(?!["']?\\$\\()`, 'i') },
  // Alertmanager / Prometheus / Grafana config keys holding a credential inline (the *_file forms are fine).
  { name: 'config-literal-secret', pattern: /^\s*(?:-\s+)?(?:password|auth_password|auth_secret|bearer_token|routing_key|service_key|api_key|client_secret|credentials)\s*:[ \t]*["']?(?![\s|>{[])\S/m },
  // Credentials in a URL (the $(VAR) form Kubernetes expands from a Secret is fine).
  { name: 'url-credentials', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/$()'"`]+:[^\s@/$()'"`]+@/i },
  { name: 'slack-webhook', pattern: /hooks\.slack\.com\/services\/[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9]+/ },
  { name: 'private-key', pattern: /-----BEGIN(?: [A-Z]+)* PRIVATE KEY-----/ },
];

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Findings of the text rules in one file's content. */
export function scanText(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  for (const rule of TEXT_RULES) {
    const global = new RegExp(rule.pattern.source, rule.pattern.flags.includes('g') ? rule.pattern.flags : `${rule.pattern.flags}g`);
    for (const m of text.matchAll(global)) {
      findings.push({ file, line: lineOf(text, m.index ?? 0), rule: rule.name, text: m[0].trim().slice(0, 120) });
    }
  }
  return findings;
}

const SECRET_ENV = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL/i;
/** Alertmanager config keys that carry a credential inline; each has a *_file counterpart. */
const INLINE_SECRET_KEYS = new Set(['password', 'auth_password', 'auth_secret', 'bearer_token', 'routing_key', 'service_key', 'api_key', 'api_url', 'url', 'credentials']);
/** Keys whose inline value is not a credential in the receivers they appear in. */
const PLAIN_URL_RECEIVERS = new Set(['webhook_configs']);

function podSpecs(o: KubeObject): any[] {
  const t = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec ?? (o.kind === 'Pod' ? o.spec : undefined);
  return t ? [t] : [];
}

function walk(value: unknown, visit: (key: string, value: unknown, parents: string[]) => void, parents: string[] = []): void {
  if (Array.isArray(value)) value.forEach(v => walk(v, visit, parents));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      visit(k, v, parents);
      walk(v, visit, [...parents, k]);
    }
  }
}

/** Structural rules over synthesized objects. */
export function scanObjects(file: string, objects: KubeObject[]): Finding[] {
  const findings: Finding[] = [];
  const add = (o: KubeObject, rule: string, text: string) => findings.push({ file, line: 0, rule, text: `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}: ${text}` });
  for (const o of objects) {
    if (o.kind === 'Secret') add(o, 'synthesized-secret', 'credentials must come from a Secret the user creates, not from the manifests');
    for (const spec of podSpecs(o)) {
      for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
        for (const e of c.env ?? []) {
          if (SECRET_ENV.test(e.name) && e.value !== undefined) add(o, 'literal-secret-env', `${c.name} env ${e.name} has a literal value`);
        }
      }
    }
    if (o.kind === 'ConfigMap') {
      for (const [key, content] of Object.entries<string>(o.data ?? {})) {
        if (!/\.(ya?ml)$/.test(key) || !/receivers:/.test(content)) continue;
        walk(YAML.parse(content), (k, v, parents) => {
          const receiverType = parents.find(p => p.endsWith('_configs'));
          if (!INLINE_SECRET_KEYS.has(k) || typeof v !== 'string') return;
          if (k === 'url' && receiverType !== undefined && PLAIN_URL_RECEIVERS.has(receiverType)) return;
          add(o, 'config-literal-secret', `${key}: ${[...parents, k].join('.')} is inline; use ${k}_file and a Secret`);
        });
      }
    }
  }
  return findings;
}

/** Files git tracks, plus new ones it does not ignore, relative to `root`. */
export function repoFiles(root: string): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0').filter(f => f !== '' && fs.existsSync(path.join(root, f)));
}

/** Text files only: a NUL byte in the first 8 KiB marks a binary. */
export function readText(file: string): string | undefined {
  const buf = fs.readFileSync(file);
  return buf.subarray(0, 8192).includes(0) ? undefined : buf.toString('utf8');
}
