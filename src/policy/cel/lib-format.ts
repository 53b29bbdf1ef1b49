import { type Environment, Optional } from '@marcbachmann/cel-js';
import { parseRequestURI } from './lib-url.js';
import { fn } from './values.js';

/**
 * Kubernetes' format library (k8s.io/apiserver/pkg/cel/library/format.go): `format.<name>()` returns a
 * Format and `.validate(s)` returns optional.none() when `s` is valid, else the list of error messages
 * (worded as apimachinery's validation messages, which users already know from API errors).
 */
export class Format {
  constructor(
    readonly name: string,
    readonly validate: (s: string) => string[],
  ) {}

  toString(): string {
    return this.name;
  }
}

export class FormatNamespace {}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

const full = (re: string) => new RegExp(`^(?:${re})$`);
const RE = {
  label: full(DNS1123_LABEL),
  subdomain: full(DNS1123_SUBDOMAIN),
  dns1035: full(DNS1035_LABEL),
  qualified: full(QUALIFIED_NAME),
  labelValue: full(LABEL_VALUE),
  uuid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
  base64: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
};

const maxLen = (n: number) => `must be no more than ${n} characters`;

function regexError(msg: string, re: string, ...examples: string[]): string {
  const eg = examples.map((e) => `'${e}'`).join(',  or ');
  return `${msg} (e.g. ${eg}, regex used for validation is '${re}')`;
}

function dns1123Label(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push(maxLen(63));
  if (!RE.label.test(s)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL,
        'my-name',
        '123-abc',
      ),
    );
  }
  return errs;
}

function dns1123Subdomain(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 253) errs.push(maxLen(253));
  if (!RE.subdomain.test(s)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN,
        'example.com',
      ),
    );
  }
  return errs;
}

function dns1035Label(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push(maxLen(63));
  if (!RE.dns1035.test(s)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL,
        'my-name',
        'abc-123',
      ),
    );
  }
  return errs;
}

const QUALIFIED_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

function qualifiedName(s: string): string[] {
  const parts = s.split('/');
  let name: string;
  const errs: string[] = [];
  if (parts.length === 1) name = parts[0] as string;
  else if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const e of dns1123Subdomain(prefix)) errs.push(`prefix part ${e}`);
  } else {
    return [
      `${regexError(`a qualified name ${QUALIFIED_MSG}`, QUALIFIED_NAME, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLen(63)}`);
  if (name.length > 0 && !RE.qualified.test(name)) {
    errs.push(regexError(`name part ${QUALIFIED_MSG}`, QUALIFIED_NAME, 'MyName', 'my.name', '123-abc'));
  }
  return errs;
}

function labelValue(s: string): string[] {
  const errs: string[] = [];
  if (s.length > 63) errs.push(maxLen(63));
  if (!RE.labelValue.test(s)) {
    errs.push(
      regexError(
        `a valid label must be an empty string or ${QUALIFIED_MSG}`,
        LABEL_VALUE,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return errs;
}

/** the "Prefix" formats validate a generateName prefix: a trailing '-' is allowed */
const prefixed = (f: (s: string) => string[]) => (s: string) => f(s.endsWith('-') ? `${s.slice(0, -1)}a` : s);

function uri(s: string): string[] {
  try {
    parseRequestURI(s);
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

function date(s: string): string[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return ['invalid date'];
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? [] : ['invalid date'];
}

function datetime(s: string): string[] {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m || date(m[1] as string).length > 0) return ['invalid datetime'];
  return Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4]) > 60 ? ['invalid datetime'] : [];
}

export const FORMATS: Readonly<Record<string, Format>> = {
  dns1123Label: new Format('DNS1123Label', dns1123Label),
  dns1123Subdomain: new Format('DNS1123Subdomain', dns1123Subdomain),
  dns1035Label: new Format('DNS1035Label', dns1035Label),
  qualifiedName: new Format('QualifiedName', qualifiedName),
  dns1123LabelPrefix: new Format('DNS1123LabelPrefix', prefixed(dns1123Label)),
  dns1123SubdomainPrefix: new Format('DNS1123SubdomainPrefix', prefixed(dns1123Subdomain)),
  dns1035LabelPrefix: new Format('DNS1035LabelPrefix', prefixed(dns1035Label)),
  labelValue: new Format('LabelValue', labelValue),
  uri: new Format('URI', uri),
  uuid: new Format('uuid', (s) => (RE.uuid.test(s) ? [] : ['does not match the UUID format'])),
  byte: new Format('byte', (s) => (RE.base64.test(s) ? [] : ['invalid base64'])),
  date: new Format('date', date),
  datetime: new Format('datetime', datetime),
};

export function registerFormat(env: Environment): void {
  env.registerType('kubernetes.NamedFormat', Format);
  env.registerType('FormatNamespace', FormatNamespace);
  env.registerConstant('format', 'FormatNamespace', new FormatNamespace());
  for (const [name, f] of Object.entries(FORMATS)) {
    fn(env, `FormatNamespace.${name}(): kubernetes.NamedFormat`, () => f);
  }
  fn(env, 'FormatNamespace.named(string): optional<kubernetes.NamedFormat>', (_ns: unknown, name: string) => {
    const f = Object.hasOwn(FORMATS, name) ? FORMATS[name] : undefined;
    return f ? Optional.of(f) : Optional.none();
  });
  fn(env, 'kubernetes.NamedFormat.validate(string): optional<list<string>>', (f: Format, s: string) => {
    const errs = f.validate(s);
    return errs.length === 0 ? Optional.none() : Optional.of(errs);
  });
}
