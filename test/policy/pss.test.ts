import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { load } from 'js-yaml';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { PSS_CHECKS, PSS_LATEST, type PssLevel, pssCheckIds } from '../../src/policy/checks/pss.js';
import { evaluateCheck, PolicyEngine } from '../../src/policy/engine.js';
import { POD_KINDS } from '../../src/policy/k8s.js';
import type { K8sObject, ObjectCheck } from '../../src/policy/types.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/pss');
const DOC = join(import.meta.dirname, '../../docs/policy/pss.md');

interface Row {
  prefix: string;
  /** PSA check id */
  check: string;
  level: PssLevel;
  /** minor of the first version, from the `since` column (`1.0 (changed 1.35)` -> 0) */
  since: number;
  substring: string;
}

/** The README's table: file prefix -> PSA check id, level, since, expected message substring. */
function readmeTable(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of readFileSync(join(FIXTURES, 'README.md'), 'utf8').split('\n')) {
    const m = /^\| ([a-z_]+) \| (\w+) \| (baseline|restricted) \| 1\.(\d+)[^|]* \| `([^`]+)` \|$/.exec(line);
    if (!m) continue;
    rows.set(m[1]!, {
      prefix: m[1]!,
      check: m[2]!,
      level: m[3] as PssLevel,
      since: Number(m[4]),
      substring: m[5]!,
    });
  }
  return rows;
}

interface Fixture {
  path: string;
  level: PssLevel;
  version: number;
  expect: 'pass' | 'fail';
  prefix: string;
  pod: K8sObject;
}

/** The packed fixture tree (SOURCES.md): path -> content hash, hash -> YAML text. */
const PACKED = (() => {
  let packed: { files: Record<string, string>; contents: Record<string, string> } | undefined;
  return () => {
    packed ??= JSON.parse(readFileSync(join(FIXTURES, 'pss-fixtures.json'), 'utf8')) as typeof packed;
    return packed!;
  };
})();

/** Every packed fixture, each distinct content parsed once. */
function fixtures(): Fixture[] {
  const packed = PACKED();
  const parsed = new Map<string, K8sObject>();
  const out: Fixture[] = [];
  for (const [path, hash] of Object.entries(packed.files)) {
    const m = /^(baseline|restricted)\/v1\.(\d+)\/(pass|fail)\/([a-z_]+?)\d*\.yaml$/.exec(path);
    assert.ok(m, `unexpected fixture path ${path}`);
    let pod = parsed.get(hash);
    if (!pod) {
      const text = packed.contents[hash];
      assert.ok(text !== undefined, `no content for ${path}`);
      pod = load(text) as K8sObject;
      parsed.set(hash, pod);
    }
    out.push({
      path,
      level: m[1] as PssLevel,
      version: Number(m[2]),
      expect: m[3] as 'pass' | 'fail',
      prefix: m[4]!,
      pod,
    });
  }
  return out;
}

const byId = new Map(PSS_CHECKS.map((c) => [c.id, c]));
const byPsa = new Map(PSS_CHECKS.map((c) => [c.references?.pss as string, c]));

function checksAt(level: PssLevel, version: number): ObjectCheck[] {
  return pssCheckIds(level, version).map((id) => byId.get(id)!);
}

function fixture(path: string): K8sObject {
  const packed = PACKED();
  const hash = packed.files[path];
  assert.ok(hash !== undefined, `no fixture ${path}`);
  return load(packed.contents[hash]!) as K8sObject;
}

const clone = <T>(o: T): T => structuredClone(o);

/** Asserts a violation message exists and contains every part (assert.ok without a message hangs under tsx). */
function includes(message: string | undefined, ...parts: string[]): void {
  assert.equal(typeof message, 'string', `expected a violation containing ${parts.join(', ')}`);
  for (const p of parts) assert.ok(message!.includes(p), `${JSON.stringify(message)} lacks ${p}`);
}

function run(id: string, object: K8sObject, pssVersion = PSS_LATEST) {
  const check = byId.get(id);
  assert.ok(check, id);
  return evaluateCheck(check, object, { pssVersion });
}

describe('pss catalogue', () => {
  const table = readmeTable();

  it('has one check per PSA check id of the fixture README, named pss.<level>.<camelName>', () => {
    assert.ok(table.size >= 19, `parsed ${table.size} README rows`);
    const want = [...table.values()].map(
      (r) => `pss.${r.level}.${r.check.replace(/_(baseline|restricted)$/, '')}`,
    );
    assert.deepEqual(PSS_CHECKS.map((c) => c.id).sort(), want.sort());
    for (const r of table.values()) {
      const c = byPsa.get(r.check);
      assert.ok(c, r.check);
      assert.equal(c.references?.level, r.level, r.check);
      assert.equal(c.references?.since, `v1.${r.since}`, r.check);
    }
  });

  it('carries the contract metadata', () => {
    for (const c of PSS_CHECKS) {
      const level = c.references?.level as PssLevel;
      assert.equal(c.family, 'pss');
      assert.equal(c.scope, 'object');
      assert.deepEqual(c.kinds, POD_KINDS);
      assert.equal(c.category, `Pod Security Standards (${level})`);
      assert.equal(c.defaultEffect, level === 'baseline' ? 'warn' : 'audit');
      assert.ok(c.title && c.description && c.remediation, c.id);
      const over = c.references?.overrides;
      if (over !== undefined) {
        assert.equal(level, 'restricted', c.id);
        assert.ok(byId.get(over as string)?.references?.level === 'baseline', `${c.id} overrides ${over}`);
      }
    }
    assert.equal(BUILTIN_CHECKS.filter((c) => c.family === 'pss').length, PSS_CHECKS.length);
  });

  it('pssCheckIds follows the since column and the overrides', () => {
    for (let v = 0; v <= PSS_LATEST; v++) {
      const base = new Set(pssCheckIds('baseline', v));
      const restricted = new Set(pssCheckIds('restricted', v));
      for (const r of table.values()) {
        const id = byPsa.get(r.check)!.id;
        const exists = r.since <= v;
        if (r.level === 'baseline') assert.equal(base.has(id), exists, `${id} at baseline v1.${v}`);
        else assert.equal(restricted.has(id), exists, `${id} at restricted v1.${v}`);
        assert.ok(r.level === 'restricted' || !restricted.has(id) || base.has(id), `${id} at v1.${v}`);
      }
      // a baseline check is missing from restricted exactly when a restricted check in force overrides it
      for (const id of base) {
        const overrider = [...restricted].find((r) => byId.get(r)!.references?.overrides === id);
        assert.equal(restricted.has(id), overrider === undefined, `${id} at restricted v1.${v}`);
      }
    }
    const expected: Array<[PssLevel, number, string, boolean]> = [
      ['restricted', 18, 'pss.baseline.seccompProfile', true],
      ['restricted', 19, 'pss.baseline.seccompProfile', false],
      ['restricted', 21, 'pss.baseline.capabilities', true],
      ['restricted', 22, 'pss.baseline.capabilities', false],
      ['baseline', 33, 'pss.baseline.hostProbesAndHostLifecycle', false],
      ['baseline', 34, 'pss.baseline.hostProbesAndHostLifecycle', true],
      ['restricted', 34, 'pss.baseline.procMount', true],
      ['restricted', 35, 'pss.baseline.procMount', false],
      ['restricted', 0, 'pss.baseline.hostPathVolumes', false],
    ];
    for (const [level, v, id, present] of expected) {
      assert.equal(pssCheckIds(level, v).includes(id), present, `${id} at ${level}@v1.${v}`);
    }
    assert.deepEqual(pssCheckIds('restricted', PSS_LATEST + 5), pssCheckIds('restricted', PSS_LATEST));
  });

  it('PolicyEngine with {pss: {level, version}} runs exactly pssCheckIds', () => {
    for (const level of ['baseline', 'restricted'] as const) {
      for (let version = 0; version <= PSS_LATEST; version++) {
        const engine = new PolicyEngine({ pss: { level, version } });
        assert.deepEqual(
          engine.active.map((a) => a.check.id).sort(),
          pssCheckIds(level, version).sort(),
          `${level}@v1.${version}`,
        );
      }
    }
  });

  it('docs/policy/pss.md names every check id', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const c of PSS_CHECKS) assert.ok(doc.includes(`\`${c.id}\``), c.id);
  });
});

describe('pss fixtures (kubernetes/pod-security-admission testdata)', () => {
  const table = readmeTable();
  const all = fixtures();

  for (const level of ['baseline', 'restricted'] as const) {
    it(`${level}: pass files are allowed, fail files denied by their check with the README substring`, () => {
      const mine = all.filter((f) => f.level === level);
      assert.ok(mine.some((f) => f.expect === 'pass') && mine.some((f) => f.expect === 'fail'), level);
      const problems: string[] = [];
      const checks = new Map<number, ObjectCheck[]>();
      for (const f of mine) {
        let active = checks.get(f.version);
        if (!active) {
          active = checksAt(level, f.version);
          checks.set(f.version, active);
        }
        const found = active.flatMap((c) =>
          evaluateCheck(c, f.pod, { pssVersion: f.version }).map((v) => ({ id: c.id, ...v })),
        );
        if (f.expect === 'pass') {
          if (found.length)
            problems.push(`${f.path}: ${found.map((v) => `${v.id}: ${v.message}`).join(' | ')}`);
          continue;
        }
        const row = table.get(f.prefix);
        if (!row) {
          problems.push(`${f.path}: prefix ${f.prefix} not in the README table`);
          continue;
        }
        const named = byPsa.get(row.check)!;
        // at restricted, a restricted check in force may replace the named baseline check
        const expected = active.includes(named)
          ? named
          : active.find((c) => c.references?.overrides === named.id);
        if (!expected) {
          problems.push(`${f.path}: neither ${named.id} nor a check overriding it runs at v1.${f.version}`);
          continue;
        }
        const hit = found.filter((v) => v.id === expected.id);
        if (!hit.length) problems.push(`${f.path}: ${expected.id} allowed it`);
        else if (!hit.some((v) => v.message.includes(row.substring))) {
          problems.push(`${f.path}: ${hit[0]!.message} lacks ${JSON.stringify(row.substring)}`);
        }
      }
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${mine.length} fixtures disagree`);
    });
  }
});

/** Wraps a pod into an owner of `kind`; returns the object and the path of its pod spec. */
function wrap(pod: K8sObject, kind: string): { object: K8sObject; spec: string } {
  const template = { metadata: clone(pod.metadata), spec: clone(pod.spec) };
  const meta = { name: `wrapped-${kind.toLowerCase()}`, namespace: 'apps' };
  switch (kind) {
    case 'Pod':
      return { object: { apiVersion: 'v1', kind, metadata: meta, spec: clone(pod.spec) }, spec: 'spec' };
    case 'PodTemplate':
      return { object: { apiVersion: 'v1', kind, metadata: meta, template }, spec: 'template.spec' };
    case 'CronJob':
      return {
        object: {
          apiVersion: 'batch/v1',
          kind,
          metadata: meta,
          spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } },
        },
        spec: 'spec.jobTemplate.spec.template.spec',
      };
    default:
      return {
        object: { apiVersion: 'apps/v1', kind, metadata: meta, spec: { template } },
        spec: 'spec.template.spec',
      };
  }
}

describe('pss on workloads', () => {
  it('catches a failing pod inside every POD_KINDS owner, at the right path and container', () => {
    const pod = fixture(`baseline/v1.${PSS_LATEST}/fail/privileged0.yaml`);
    const annotated = fixture(`baseline/v1.${PSS_LATEST}/fail/apparmorprofile1.yaml`);
    for (const kind of POD_KINDS) {
      const { object, spec } = wrap(pod, kind);
      const [v, ...rest] = run('pss.baseline.privileged', object);
      assert.equal(rest.length, 0, kind);
      assert.equal(v?.container, 'container1', kind);
      assert.equal(v?.path, `${spec}.containers[0].securityContext.privileged`, kind);
      assert.equal(
        v?.message,
        'privileged (container "container1" must not set securityContext.privileged=true)',
      );
      // annotations come from the pod template's metadata (a Pod has its own)
      if (kind === 'Pod') continue;
      const w = wrap(annotated, kind);
      const [a] = run('pss.baseline.appArmorProfile', w.object);
      assert.equal(a?.container, 'initcontainer1', kind);
      assert.ok(
        a?.path?.startsWith(`${w.spec.replace(/spec$/, 'metadata')}.annotations[`),
        `${kind}: ${a?.path}`,
      );
      includes(a?.message, '"unconfined"');
    }
  });

  it('ignores objects without a pod spec', () => {
    for (const c of PSS_CHECKS) {
      assert.deepEqual(evaluateCheck(c, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }), []);
      assert.deepEqual(evaluateCheck(c, { apiVersion: 'apps/v1', kind: 'Deployment', spec: {} }), []);
    }
  });

  it('checks init and ephemeral containers and names each offender', () => {
    const pod = clone(fixture(`baseline/v1.${PSS_LATEST - 1}/pass/base.yaml`)) as K8sObject & {
      spec: Record<string, unknown>;
    };
    pod.spec.ephemeralContainers = [
      {
        name: 'debugger',
        image: 'busybox',
        securityContext: { privileged: true, capabilities: { add: ['SYS_PTRACE'] } },
      },
    ];
    const [p] = run('pss.baseline.privileged', pod);
    assert.equal(p?.container, 'debugger');
    assert.equal(p?.path, 'spec.ephemeralContainers[0].securityContext.privileged');
    const [c] = run('pss.baseline.capabilities', pod);
    assert.equal(c?.path, 'spec.ephemeralContainers[0].securityContext.capabilities.add[0]');
    includes(c?.message, '"SYS_PTRACE"', '"debugger"');

    (pod.spec.initContainers as Array<Record<string, unknown>>)[0]!.securityContext = { privileged: true };
    const [both] = run('pss.baseline.privileged', pod);
    assert.equal(both?.container, undefined, 'two containers at fault: no single container');
    assert.equal(
      both?.message,
      'privileged (containers "initcontainer1", "debugger" must not set securityContext.privileged=true)',
    );
  });

  it('exempts Windows pods from the Linux-only restricted checks from v1.25, not runAsNonRoot', () => {
    const windows = fixture(`restricted/v1.${PSS_LATEST}/pass/base_windows.yaml`);
    const linuxOnly = [
      'pss.restricted.allowPrivilegeEscalation',
      'pss.restricted.seccompProfile',
      'pss.restricted.capabilities',
    ];
    for (const id of linuxOnly) {
      assert.deepEqual(run(id, windows, 25), [], `${id} at v1.25`);
      assert.equal(run(id, windows, 24).length, 1, `${id} at v1.24`);
    }
    const rooted = clone(windows) as K8sObject & { spec: { securityContext: Record<string, unknown> } };
    rooted.spec.securityContext.runAsNonRoot = false;
    assert.equal(run('pss.restricted.runAsNonRoot', rooted).length, 1);
  });

  it('relaxes runAsNonRoot, runAsUser and baseline procMount for user-namespace pods from v1.35', () => {
    const base = fixture('restricted/v1.35/pass/base.yaml') as K8sObject & { spec: Record<string, unknown> };
    const pod = clone(base) as typeof base;
    pod.spec.hostUsers = false;
    (pod.spec.securityContext as Record<string, unknown>) = {
      runAsUser: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    const containers = pod.spec.containers as Array<{ securityContext: Record<string, unknown> }>;
    containers[0]!.securityContext.procMount = 'Unmasked';
    for (const id of ['pss.restricted.runAsNonRoot', 'pss.restricted.runAsUser', 'pss.baseline.procMount']) {
      assert.deepEqual(run(id, pod, 35), [], `${id} at v1.35`);
      assert.equal(run(id, pod, 34).length, 1, `${id} at v1.34`);
    }
    // restricted keeps forbidding the unmasked /proc
    includes(run('pss.restricted.procMount', pod, 35)[0]?.message, '"Unmasked"');
  });

  it('reads AppArmor fields as well as annotations', () => {
    const pod = clone(fixture(`baseline/v1.${PSS_LATEST - 1}/pass/base.yaml`)) as K8sObject & {
      spec: Record<string, unknown>;
    };
    pod.spec.securityContext = { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-default' } };
    assert.deepEqual(run('pss.baseline.appArmorProfile', pod), []);
    (pod.spec.containers as Array<Record<string, unknown>>)[0]!.securityContext = {
      appArmorProfile: { type: 'Unconfined' },
    };
    const [v] = run('pss.baseline.appArmorProfile', pod);
    assert.equal(v?.container, 'container1');
    assert.equal(v?.path, 'spec.containers[0].securityContext.appArmorProfile.type');
    includes(v?.message, 'forbidden AppArmor profile (', '"Unconfined"');
  });

  it('applies version-dependent allow lists: SELinux container_engine_t from v1.31, image volumes always', () => {
    const pod = clone(fixture(`restricted/v1.${PSS_LATEST}/pass/base.yaml`)) as K8sObject & {
      spec: Record<string, unknown>;
    };
    (pod.spec.securityContext as Record<string, unknown>).seLinuxOptions = { type: 'container_engine_t' };
    assert.deepEqual(run('pss.baseline.seLinuxOptions', pod, 31), []);
    const [v] = run('pss.baseline.seLinuxOptions', pod, 30);
    includes(v?.message, '"container_engine_t"');
    pod.spec.volumes = [{ name: 'tools', image: { reference: 'registry.example/tools:1' } }];
    assert.deepEqual(run('pss.restricted.restrictedVolumes', pod, 20), []);
    pod.spec.volumes = [{ name: 'share', nfs: { server: 'nfs', path: '/x' } }];
    const [nfs] = run('pss.restricted.restrictedVolumes', pod);
    assert.equal(nfs?.path, 'spec.volumes[0].nfs');
    includes(nfs?.message, '"share"', '"nfs"');
  });

  it('sees changes made to an object between evaluations (the shared pod is never stale)', () => {
    const { object } = wrap(fixture(`baseline/v1.${PSS_LATEST - 1}/pass/base.yaml`), 'Deployment');
    const spec = (object.spec as { template: { spec: Record<string, unknown>; metadata?: unknown } })
      .template;
    assert.deepEqual(run('pss.baseline.privileged', object), []);
    (spec.spec.containers as unknown[]).push({ name: 'added', securityContext: { privileged: true } });
    assert.equal(run('pss.baseline.privileged', object)[0]?.container, 'added');
    spec.spec = { containers: [{ name: 'replaced', securityContext: { privileged: true } }] };
    assert.equal(
      run('pss.baseline.privileged', object)[0]?.path,
      'spec.template.spec.containers[0].securityContext.privileged',
    );
    assert.equal(run('pss.baseline.privileged', object)[0]?.container, 'replaced');
    spec.metadata = {
      annotations: { 'container.apparmor.security.beta.kubernetes.io/replaced': 'unconfined' },
    };
    assert.equal(run('pss.baseline.appArmorProfile', object)[0]?.container, 'replaced');
    spec.spec.hostUsers = false;
    (spec.spec.containers as Array<Record<string, unknown>>)[0]!.securityContext = { procMount: 'Unmasked' };
    assert.deepEqual(run('pss.baseline.procMount', object, 35), []);
    spec.spec.hostUsers = true;
    assert.equal(run('pss.baseline.procMount', object, 35).length, 1);
  });

  it('reports nothing for checks that do not exist yet at the chosen version', () => {
    const pod = fixture(`baseline/v1.${PSS_LATEST}/fail/hostprobesandhostlifecycle0.yaml`);
    assert.equal(run('pss.baseline.hostProbesAndHostLifecycle', pod, 34).length, 1);
    assert.deepEqual(run('pss.baseline.hostProbesAndHostLifecycle', pod, 33), []);
  });
});

describe('pss on malformed pods', () => {
  it('never throws, whatever the shape of the fields it reads', () => {
    const weird: unknown[] = [null, 'x', 5, true, [], {}, [null, 'x', 5, {}], { type: 5, user: 1, name: 7 }];
    const fields = [
      'securityContext',
      'volumes',
      'containers',
      'initContainers',
      'ephemeralContainers',
      'os',
      'hostUsers',
      'hostNetwork',
    ];
    const containerFields = ['securityContext', 'ports', 'livenessProbe', 'lifecycle', 'name'];
    const scFields = [
      'capabilities',
      'seLinuxOptions',
      'seccompProfile',
      'appArmorProfile',
      'sysctls',
      'windowsOptions',
      'procMount',
      'runAsUser',
    ];
    let evaluated = 0;
    const tryAll = (pod: K8sObject) => {
      for (const c of PSS_CHECKS) {
        for (const v of [0, 18, 19, 25, 35, PSS_LATEST]) {
          const out = evaluateCheck(c, pod, { pssVersion: v });
          assert.ok(Array.isArray(out), c.id);
          evaluated++;
        }
      }
    };
    for (const w of weird) {
      for (const f of fields)
        tryAll({ kind: 'Pod', metadata: { annotations: { a: 'b' } }, spec: { [f]: w } });
      for (const f of containerFields) {
        tryAll({ kind: 'Pod', spec: { containers: [{ [f]: w }], initContainers: [{ name: 'i', [f]: w }] } });
      }
      for (const f of scFields) {
        const sc = { [f]: w, capabilities: { add: w, drop: w } };
        tryAll({
          kind: 'Pod',
          spec: { securityContext: sc, containers: [{ name: 'c', securityContext: sc }] },
        });
      }
      tryAll({
        kind: 'Deployment',
        spec: {
          template: { metadata: { annotations: w }, spec: { volumes: [{ name: 'v', hostPath: w, nfs: w }] } },
        },
      } as K8sObject);
      tryAll({ kind: 'CronJob', spec: { jobTemplate: w } });
    }
    assert.ok(evaluated > 1000, `${evaluated} evaluations`);
  });
});
