package ops

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/core/receipt"
)

// verifyReceipt: see abi.OpVerifyReceipt.
func verifyReceipt(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "verify_receipt", "receipt", "key", "origin", "policy")
	if err != nil {
		return nil, err
	}
	text, err := o.str("receipt")
	if err != nil {
		return nil, err
	}
	key, origin, policy, err := o.trust()
	if err != nil {
		return nil, err
	}
	v, err := checkpoint.NewVerifier(key)
	if err != nil {
		return nil, err
	}
	r, err := receipt.Verify([]byte(text), origin, v)
	if err != nil {
		return nil, err
	}
	e := &r.Event
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"event_type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"leaf_hash":"`...)
	dst = merkle.AppendHex(dst, e.LeafHash[:])
	dst = append(dst, `","origin":`...)
	dst = appendJSONString(dst, r.Checkpoint.Origin)
	dst = append(dst, `,"tree_size":`...)
	dst = strconv.AppendUint(dst, r.Checkpoint.Size, 10)
	dst = append(dst, `,"root":"`...)
	dst = merkle.AppendHex(dst, r.Checkpoint.Root[:])
	dst = append(dst, `","event":`...)
	dst = event.AppendJSON(dst, e)
	if policy != nil {
		dst = appendWitnesses(dst, policy, r.Raw)
	}
	return append(dst, '}'), nil
}

// appendWitnesses appends ,"witnesses":{"cosigned_by":[...],"met":b,
// "quorum":"..."} for a signed note under policy.
func appendWitnesses(dst []byte, policy *checkpoint.Policy, note []byte) []byte {
	cosigners := checkpoint.Cosigners(note, policy.List())
	dst = append(dst, `,"witnesses":{"cosigned_by":[`...)
	for i, c := range cosigners {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c)
	}
	dst = append(dst, `],"met":`...)
	dst = strconv.AppendBool(dst, policy.Met(cosigners))
	dst = append(dst, `,"quorum":`...)
	dst = appendJSONString(dst, policy.Describe())
	return append(dst, '}')
}
