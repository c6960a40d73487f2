import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import * as YAML from 'yaml';
import { KubeObject } from '../../harness/kube-object';

const CRD_DIR = path.join(__dirname, '..', '..', 'imports', 'crds');

/**
 * CRD schemas made strict: Kubernetes prunes unknown fields silently, so a misspelt field would be lost
 * on apply. We reject them instead, except where the schema preserves unknown fields.
 */
function strict(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-')) continue;
    out[k] = strict(v);
  }
  if (schema.type === 'object' && schema.properties && !schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  if (schema['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  return out;
}

/** CRD patterns are Go regular expressions; translate the `(?i)` flag group they use. */
const goRegExp = Object.assign((pattern: string, flags: string) => {
  const caseInsensitive = pattern.includes('(?i)');
  return new RegExp(pattern.replace('(?i)', ''), caseInsensitive ? `${flags}i` : flags);
}, { code: 'goRegExp' });

let crdValidators: Map<string, ValidateFunction> | undefined;

function loadCrdValidators(): Map<string, ValidateFunction> {
  if (crdValidators) return crdValidators;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, code: { regExp: goRegExp } });
  const validators = new Map<string, ValidateFunction>();
  for (const file of fs.readdirSync(CRD_DIR).filter(f => f.endsWith('.yaml'))) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(CRD_DIR, file), 'utf8'))) {
      const crd = doc.toJSON();
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const version of crd.spec.versions) {
        const schema = strict(version.schema.openAPIV3Schema);
        // metadata is validated by the API server, not the CRD schema.
        schema.properties.metadata = { type: 'object', required: ['name'] };
        schema.properties.apiVersion = { const: `${crd.spec.group}/${version.name}` };
        schema.properties.kind = { const: crd.spec.names.kind };
        schema.required = [...new Set([...(schema.required ?? []), 'apiVersion', 'kind', 'metadata'])];
        validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  crdValidators = validators;
  return validators;
}

function coreModel(apiVersion: string, kind: string): { validate(): void } | undefined {
  const modulePath = `kubernetes-models/${apiVersion}/${kind}`;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modulePath);
    return mod[kind] ? mod : undefined;
  } catch {
    return undefined;
  }
}

/** Validates one object against its real schema; returns error strings (empty when valid). */
export function schemaErrors(obj: KubeObject): string[] {
  const where = `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
  const crd = loadCrdValidators().get(`${obj.apiVersion}/${obj.kind}`);
  if (crd) {
    return crd(obj) ? [] : (crd.errors ?? []).map(e => `${where}: ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  }
  const mod: any = coreModel(obj.apiVersion, obj.kind);
  if (!mod) {
    return [`${where}: no schema known for ${obj.apiVersion} ${obj.kind}`];
  }
  try {
    new mod[obj.kind](obj).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

/** Validates every object; throws listing all errors. */
export function expectValidObjects(objects: KubeObject[]): void {
  const errors = objects.flatMap(schemaErrors);
  if (errors.length > 0) {
    throw new Error(`Schema validation failed:\n${errors.join('\n')}`);
  }
}
