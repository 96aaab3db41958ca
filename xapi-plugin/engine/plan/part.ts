// What one owned resource's planner returns: its share of the steps, and what we own of it
// once they have run. planApply puts the parts together in a fixed order.

import type { Step, Unchanged } from '../../../shared/results.ts'

export interface Part<T> {
  make: Step[]
  break: Step[]
  unchanged: Unchanged[]
  owned: T[]
}

export function emptyPart<T>(): Part<T> {
  return { make: [], break: [], unchanged: [], owned: [] }
}
