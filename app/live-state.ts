// The serving API's LiveState over the running CX job: the current attempt's journey operator and the partitions the engine has restored for it.
import type { PartitionAssignment } from '../engine/index.ts';
import type { CxLiveView } from '../pipelines/cx/live-view.ts';
import type { CustomerJourney, LiveSession, LiveState } from '../serving/live-state.ts';
import type { Signal } from '../schemas/outputs.ts';

/**
 * Follows the pipeline's job attempts: each one (a start, a supervised restart, the bounded run after a paced replay)
 * builds its own operator and `attach`es its view; the engine's `onAssignment` says which partitions that state
 * answers for. Until the first attempt has restored its partitions, and between attempts, it is `'rebalancing'`.
 */
export class PipelineLiveState implements LiveState {
  #view: CxLiveView | null = null;
  #assignment: PartitionAssignment = 'rebalancing';

  /** A new job attempt's view: nothing is served from it until the engine reports its restored partitions. */
  attach(view: CxLiveView): void {
    this.#view = view;
    this.#assignment = 'rebalancing';
  }

  /** The engine's `onAssignment` hook. */
  readonly onAssignment = (assignment: PartitionAssignment): void => {
    this.#assignment = assignment;
  };

  ownedPartitions(): readonly number[] | 'rebalancing' {
    return this.#view === null ? 'rebalancing' : this.#assignment;
  }

  session(key: string): LiveSession | undefined {
    return this.#view?.session(key);
  }

  openSignals(key: string, now: number): readonly Signal[] | undefined {
    return this.#view?.openSignals(key, now);
  }

  journey(key: string): CustomerJourney | undefined {
    return this.#view?.journey(key);
  }
}
