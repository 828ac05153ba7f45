// Package witness takes the log's trust off its host (docs/tamper-evidence.md#witnesses,
// docs/design/tamper-evidence.md "Witnesses"): it is a C2SP tlog-witness
// client that sends every new checkpoint, with a consistency proof from
// the size each witness last cosigned, to the witnesses of a C2SP
// tlog-policy, collects their cosignatures (C2SP tlog-cosignature), and
// keeps the newest checkpoint whose cosignatures meet the policy's quorum.
//
// Witnessing never blocks or slows an emit: the checkpointer hands each
// signed checkpoint to Submit, which only records it; one goroutine per
// witness sends the newest one at most once a second, with a timeout. A
// witness that holds another size answers 409 with it, and the request is
// sent again from that size. A witness that refuses the checkpoint as
// inconsistent with what it cosigned before (422), or a size below the one
// it holds, is evidence of a fork or a rollback: it is logged at ERROR,
// counted in stigaudit_witness_cosign_total{witness,result}, and reported
// by Ready until that witness cosigns again.
package witness
