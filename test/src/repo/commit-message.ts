// The commit message rules (as gitlint enforces them in Firecracker and cloud-hypervisor): a subject
// `component: summary` of at most 72 characters, a blank second line, and a body wrapped at 72.
export const SUBJECT_MAX = 72;
export const BODY_MAX = 72;

/** `component: summary`: a lower-case component (a folder or concept, `a/b` or `a, b` for several). */
const SUBJECT_SHAPE = /^[a-z0-9][a-z0-9._/-]*(, ?[a-z0-9][a-z0-9._/-]*)*: \S/;

/** The problems of one commit message, in the words a committer needs to fix them; empty when it is fine. */
export function messageProblems(message: string): string[] {
  const lines = message.replace(/\n+$/, '').split('\n');
  const subject = lines[0] ?? '';
  const problems: string[] = [];
  // Git writes merge subjects itself.
  if (/^Merge (branch|remote-tracking branch|commit|pull request) /.test(subject)) return problems;
  if (subject.length > SUBJECT_MAX) problems.push(`subject is ${subject.length} characters (at most ${SUBJECT_MAX})`);
  if (!SUBJECT_SHAPE.test(subject)) problems.push(`subject is not "component: summary": ${JSON.stringify(subject)}`);
  if (/\.$/.test(subject)) problems.push('subject ends with a period');
  if (lines.length > 1 && lines[1] !== '') problems.push('second line is not blank');
  lines.slice(2).forEach((line, i) => {
    // A URL, an indented block (code, output) or a table row may run long.
    if (line.length > BODY_MAX && !/^( {4}|\t|\|)|https?:\/\/\S+/.test(line)) {
      problems.push(`body line ${i + 3} is ${line.length} characters (wrap at ${BODY_MAX})`);
    }
  });
  return problems;
}
