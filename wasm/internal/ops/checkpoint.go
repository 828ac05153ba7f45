package ops

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// openCheckpoint verifies the signed checkpoint text with the verifier key
// "<name>+<hash>+<base64>" and returns what it commits to. The origin must
// be the key's name (checkpoint.Open with an empty origin).
func openCheckpoint(text, key string) (checkpoint.Checkpoint, error) {
	return openCheckpointFor(text, key, "")
}

func openCheckpointFor(text, key, origin string) (checkpoint.Checkpoint, error) {
	v, err := checkpoint.NewVerifier(key)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	return checkpoint.Open([]byte(text), origin, v)
}

// verifyCheckpoint: {"checkpoint":"<signed note>","key":"<verifier key>",
// "origin":"<optional, default the key's name>","policy":"<optional C2SP
// tlog-policy>"} → {"origin":"...","tree_size":n,"root":"<hex>"} when the
// signature by key verifies, else an invalid_checkpoint error. With a
// policy the answer adds "witnesses":{"cosigned_by":[names],"quorum":"2 of
// w1, w2, w3","met":bool}: which of the policy's witnesses cosigned it and
// whether they meet its quorum (an unmet quorum is an answer, not an error).
func verifyCheckpoint(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "verify_checkpoint", "checkpoint", "key", "origin", "policy")
	if err != nil {
		return nil, err
	}
	text, err := o.str("checkpoint")
	if err != nil {
		return nil, err
	}
	key, origin, policy, err := o.trust()
	if err != nil {
		return nil, err
	}
	cp, err := openCheckpointFor(text, key, origin)
	if err != nil {
		return nil, err
	}
	dst = append(dst, `{"origin":`...)
	dst = appendJSONString(dst, cp.Origin)
	dst = append(dst, `,"tree_size":`...)
	dst = strconv.AppendUint(dst, cp.Size, 10)
	dst = append(dst, `,"root":"`...)
	dst = merkle.AppendHex(dst, cp.Root[:])
	if policy == nil {
		return append(dst, `"}`...), nil
	}
	dst = append(dst, '"')
	dst = appendWitnesses(dst, policy, []byte(text))
	return append(dst, '}'), nil
}

// trust reads the members that say whom a verify op trusts: "key" (the
// log's verifier key), "origin" (optional; "" means the key's name) and
// "policy" (optional C2SP tlog-policy text; nil when absent).
func (o object) trust() (key, origin string, policy *checkpoint.Policy, err error) {
	if key, err = o.str("key"); err != nil {
		return "", "", nil, err
	}
	opt, err := o.optStr("origin")
	if err != nil {
		return "", "", nil, err
	}
	if opt != nil {
		origin = *opt
	}
	text, err := o.optStr("policy")
	if err != nil || text == nil {
		return key, origin, nil, err
	}
	if policy, err = checkpoint.ParsePolicy(*text); err != nil {
		return "", "", nil, err
	}
	return key, origin, policy, nil
}
