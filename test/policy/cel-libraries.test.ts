import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { compileCel, createCelEnvironment } from '../../src/policy/cel/environment.js';
import { Authorizer } from '../../src/policy/cel/lib-authz.js';
import { fromCel, toCel } from '../../src/policy/cel/values.js';

interface Example {
  expr: string;
  want?: unknown;
  error?: boolean | string;
}

const examples = yaml.load(
  readFileSync(new URL('../fixtures/vap/cel-examples.yaml', import.meta.url), 'utf8'),
) as Record<string, Example[]>;
const env = createCelEnvironment({
  variables: { object: 'dyn', authorizer: 'kubernetes.authorization.Authorizer' },
});
const vars = { object: null, authorizer: new Authorizer() };

describe('Kubernetes CEL libraries: documented examples', () => {
  for (const [library, list] of Object.entries(examples)) {
    it(`${library} (${list.length} examples)`, () => {
      for (const ex of list) {
        if (ex.error) {
          assert.throws(
            () => compileCel(env, ex.expr).evaluate(vars),
            (e: Error) => typeof ex.error !== 'string' || e.message.includes(ex.error),
            ex.expr,
          );
          continue;
        }
        const got = fromCel(compileCel(env, ex.expr).evaluate(vars));
        assert.deepEqual(got, ex.want, ex.expr);
      }
    });
  }
});

describe('CEL values from parsed manifests', () => {
  it('types integral JSON numbers as int, others as double', () => {
    const p = compileCel(env, 'object.spec.replicas + 1 == 4 && object.spec.ratio * 2.0 == 3.0');
    assert.equal(p.evaluate({ object: toCel({ spec: { replicas: 3, ratio: 1.5 } }) }), true);
  });
  it('drops null fields, as the API server does', () => {
    const p = compileCel(env, '!has(object.spec.hostPath) && object.spec.list[0] == null');
    assert.equal(p.evaluate({ object: toCel({ spec: { hostPath: null, list: [null] } }) }), true);
  });
  it('treats __proto__ and constructor as plain keys', () => {
    const obj = JSON.parse('{"metadata":{"labels":{"__proto__":"x","constructor":"y"}}}');
    const p = compileCel(
      env,
      "object.metadata.labels['__proto__'] == 'x' && 'constructor' in object.metadata.labels",
    );
    assert.equal(p.evaluate({ object: toCel(obj) }), true);
  });
  it('accepts a null branch in a ternary (the Kubernetes audit annotation pattern)', () => {
    const p = compileCel(env, "object.n > 2 ? 'many' : null");
    assert.equal(p.evaluate({ object: toCel({ n: 5 }) }), 'many');
    assert.equal(p.evaluate({ object: toCel({ n: 1 }) }), null);
  });
  it('reports compile errors with the position', () => {
    assert.throws(
      () => compileCel(env, 'object.spec.containers.all(c, c.image'),
      /Expected RPAREN.*\(at character \d+\)/,
    );
    assert.throws(() => compileCel(env, 'object.size() + nosuchfn(1)'), /nosuchfn/);
  });
});
