/**
 * The PEP 503 normalised form of a PyPI project name: every run of `-`, `_` and `.` replaced by one `-`, then
 * lower case (https://peps.python.org/pep-0503/#normalized-names). `Flask_SQLAlchemy`, `flask.sqlalchemy` and
 * `flask-sqlalchemy` are one project; analyzers report names as written and matchers compare this form.
 */
export function normalizePypiName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** Whether `name` is a valid distribution name (PEP 508: letters, digits, `-`, `_`, `.`, alphanumeric ends). */
export function isValidPypiName(name: string): boolean {
  return /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name);
}
