// Writes each closed session's row, after the stages that complete it (its campaigns).
import type { ChainStage, Outputs } from '../../../engine/index.ts';
import type { CxItem, CxOutputs } from '../journey-items.ts';

export class SessionRows implements ChainStage<CxItem, CxOutputs> {
  readonly name = 'session-rows';

  onItem(item: CxItem, out: Outputs<CxOutputs>): void {
    if (item.kind === 'session_closed') out.emit('sessions', item.kpis);
  }
}
