// Where the admin reads the whole Test report: an XO task ("XO tasks" on xo-web's Tasks
// page, its log with one entry per binding), as Xen Orchestra's own plugins record what
// they did (xo-server-load-balancer's migrations). xo-web itself shows only the outcome:
// "The test appears to be working", or the failure's message.

import type { BindingReport, TestReport } from './test-report.ts'

/** The part of an XO task (`@vates/task`'s Task, from `xo.tasks.create`) used here. */
export interface XoTask {
  readonly id: string
  run<T>(fn: () => Promise<T>): Promise<T>
  info(message: string, data?: unknown): void
  warning(message: string, data?: unknown): void
}

export interface XoTasks {
  create(properties: { name: string; type?: string; objectId?: string }): XoTask
}

export const TEST_TASK_NAME = 'vif-ip-binder: Test'

function logBinding(task: XoTask, binding: BindingReport): void {
  const text = [binding.label, ...binding.lines.map(line => `  ${line}`)].join('\n')
  if (binding.ok) task.info(text, { ok: true })
  else task.warning(text, { ok: false })
}

/**
 * Runs the Test inside an XO task when xo-server has tasks (5.x from 2024 on); the task
 * ends in failure with the same error the admin sees when a binding needs attention.
 */
export async function runTestTask(
  tasks: XoTasks | undefined,
  build: () => Promise<TestReport>,
  onFailure: (report: TestReport) => Error,
): Promise<TestReport> {
  const body = async (task?: XoTask): Promise<TestReport> => {
    const report = await build()
    if (task) for (const binding of report.bindings) logBinding(task, binding)
    if (!report.ok) throw onFailure(report)
    return report
  }
  if (!tasks) return body()
  const task = tasks.create({ name: TEST_TASK_NAME, type: 'xo:vif-ip-binder:test' })
  return task.run(() => body(task))
}

/**
 * What xo-web's modal shows of a failed Test: the message in one paragraph (xo-web renders
 * it in a `<p>`, where line breaks collapse), then `data` as indented JSON in a `<pre>`:
 * each binding needing attention, with its problem lines only.
 */
export interface FailureSummary {
  message: string
  problems: Record<string, string[]>
}

export function failureSummary(
  report: TestReport,
  taskHint: boolean,
  rename: (text: string) => string = text => text,
): FailureSummary {
  const failing = report.bindings.filter(b => !b.ok)
  const plural = report.bindings.length === 1 ? '' : 's'
  const count = `${failing.length} of ${report.bindings.length} binding${plural} need${failing.length === 1 ? 's' : ''} attention.`
  const hint = taskHint ? ` Full report: the task "${TEST_TASK_NAME}" under XO tasks on the Tasks page.` : ''
  const problems: Record<string, string[]> = {}
  for (const binding of failing)
    problems[rename(binding.label)] = binding.lines.filter(l => l.includes('PROBLEM: ')).map(rename)
  return { message: count + hint, problems }
}
