// Waits for an xapi task (from an `Async.` call) by watching its record in the
// connection's object cache rather than holding a call open: a plug-srs may wait minutes
// for a storage server, longer than any HTTP call should last, and the cache is fed by the
// event stream the plugin already listens to.

import { XapiError } from '../shared/errors.ts'
import { decodeMethodResponse } from '../shared/xmlrpc.ts'
import { CallTimeoutError, QueueClosedError } from './call-queue.ts'
import type { RecordBatch, XapiConnection, XapiRecord } from './xapi-types.ts'

export interface TaskRecord extends XapiRecord {
  readonly status: string
  /** For a success: the method's return value as an XML-RPC `<value>` document ('' for void). */
  readonly result: string
  /** For a failure: xapi's error, code first. */
  readonly error_info: readonly string[]
}

export class TaskGoneError extends Error {
  override name = 'TaskGoneError'
  readonly code = 'VIF_IP_BINDER_XO_TASK_GONE'
}

// `cancelling` is still running; xapi's other statuses are final.
const RUNNING = new Set(['pending', 'cancelling'])

function isTask(record: XapiRecord | undefined, ref: string): record is TaskRecord {
  return record !== undefined && record.$type === 'task' && record.$ref === ref
}

/**
 * Resolves with the task's record once it is finished (whatever its status), rejects with
 * CallTimeoutError after `timeoutMs`, TaskGoneError if the task is destroyed first, and
 * QueueClosedError when `signal` aborts (the plugin is being unloaded).
 */
export function waitForTask(
  xapi: XapiConnection,
  taskRef: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TaskRecord> {
  return new Promise<TaskRecord>((resolve, reject) => {
    let id: string | undefined
    const finish = (settle: () => void) => {
      clearTimeout(timer)
      xapi.objects.removeListener('add', onChange)
      xapi.objects.removeListener('update', onChange)
      xapi.objects.removeListener('remove', onRemove)
      signal?.removeEventListener('abort', onAbort)
      settle()
    }
    const look = (record: XapiRecord | undefined) => {
      if (!isTask(record, taskRef)) return false
      id = record.$id
      if (RUNNING.has(record.status)) return false
      finish(() => resolve(record))
      return true
    }
    const onChange = (batch: RecordBatch) => {
      for (const record of Object.values(batch)) if (look(record)) return
    }
    const onRemove = (batch: RecordBatch) => {
      if (id !== undefined && id in batch)
        finish(() => reject(new TaskGoneError(`task ${taskRef} was destroyed before it finished (xapi restarted?)`)))
    }
    const onAbort = () => finish(() => reject(new QueueClosedError()))
    const timer = setTimeout(
      () => finish(() => reject(new CallTimeoutError(`task ${taskRef}: not finished within ${timeoutMs} ms`))),
      timeoutMs,
    )

    if (signal?.aborted) return onAbort()
    xapi.objects.on('add', onChange)
    xapi.objects.on('update', onChange)
    xapi.objects.on('remove', onRemove)
    signal?.addEventListener('abort', onAbort)
    // The record may have arrived (even finished) before we started listening.
    for (const record of Object.values(xapi.objects.all)) if (look(record)) return
  })
}

/** The value a finished task returned, decoded from xapi's XML; throws its error for a failure. */
export function taskResult(task: TaskRecord): unknown {
  if (task.status === 'success') {
    if (task.result === '') return ''
    const response = decodeMethodResponse(
      `<methodResponse><params><param>${task.result}</param></params></methodResponse>`,
    )
    return response.kind === 'value' ? response.value : undefined
  }
  const [code, ...params] = task.error_info.length
    ? task.error_info
    : [task.status === 'cancelled' ? 'TASK_CANCELLED' : `TASK_${task.status.toUpperCase()}`]
  throw new XapiError(code!, params)
}
