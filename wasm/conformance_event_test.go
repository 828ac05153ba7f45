package wasm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// needsEntropy reports whether building request generates an id.
func needsEntropy(request string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(request), &m) != nil {
		return true
	}
	id, ok := m["id"]
	return !ok || string(id) == "null"
}

func buildCall(vector, request string, nowNS int64, entropyHex string, check func([]byte) error) confCall {
	c := confCall{Vector: vector, Op: abi.OpBuildEvent, Input: request, ClockNS: strconv.FormatInt(nowNS, 10), check: check}
	if needsEntropy(request) {
		c.EntropyHex = entropyHex
	}
	return c
}

// canonicalCalls: each case is built (build_event must answer api_json),
// and leaf_hash must give leaf_hash both from the canonical text and from
// the API form.
func canonicalCalls(data []byte) ([]confCall, error) {
	var f struct {
		Cases []struct {
			Name       string `json:"name"`
			Request    string `json:"request"`
			NowUnixNS  string `json:"now_unix_ns"`
			EntropyHex string `json:"entropy_hex"`
			Canonical  string `json:"canonical"`
			LeafHash   string `json:"leaf_hash"`
			APIJSON    string `json:"api_json"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		now, err := strconv.ParseInt(c.NowUnixNS, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cases[%d]: now_unix_ns: %v", i, err)
		}
		v := fmt.Sprintf("canonical.json cases[%d]: %s", i, c.Name)
		calls = append(calls,
			buildCall(v, c.Request, now, c.EntropyHex, wantOK(c.APIJSON)),
			confCall{Vector: v + " (leaf_hash of the canonical text)", Op: abi.OpLeafHash,
				Input: mustJSON(c.Canonical), check: wantOK(`"` + c.LeafHash + `"`)},
			confCall{Vector: v + " (leaf_hash of the API form)", Op: abi.OpLeafHash,
				Input: c.APIJSON, check: wantOK(`"` + c.LeafHash + `"`)},
		)
	}
	return calls, nil
}

// invalidCalls: each request is refused with its code; not_instruction is
// the skipped answer.
func invalidCalls(data []byte) ([]confCall, error) {
	var f struct {
		NowUnixNS  string `json:"now_unix_ns"`
		EntropyHex string `json:"entropy_hex"`
		Cases      []struct {
			Name    string `json:"name"`
			Request string `json:"request"`
			Error   string `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	now, err := strconv.ParseInt(f.NowUnixNS, 10, 64)
	if err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		check := wantCode(c.Error)
		if c.Error == "not_instruction" {
			check = wantOK(Skipped)
		}
		calls = append(calls, buildCall(fmt.Sprintf("invalid.json cases[%d]: %s", i, c.Name), c.Request, now, f.EntropyHex, check))
	}
	return calls, nil
}

// jcsCalls: canonicalize each input. Cases with explicit limits are not
// replayed: limits are a parameter of the native API, while the ABI has
// fixed ones (abi.MaxInput in and out, 1000 levels).
func jcsCalls(data []byte) ([]confCall, error) {
	var f struct {
		Cases []struct {
			Name      string          `json:"name"`
			Input     *string         `json:"input"`
			InputHex  string          `json:"input_hex"`
			Limits    json.RawMessage `json:"limits"`
			Canonical *string         `json:"canonical"`
			Error     string          `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		if c.Limits != nil {
			continue
		}
		call := confCall{Vector: fmt.Sprintf("jcs.json cases[%d]: %s", i, c.Name), Op: abi.OpCanonicalize, InputHex: c.InputHex}
		if c.Input != nil {
			call.Input = *c.Input
		}
		if c.Canonical != nil {
			call.check = wantOK(string(jcs.AppendString(nil, *c.Canonical)))
		} else {
			call.check = wantCode(c.Error)
		}
		calls = append(calls, call)
	}
	return calls, nil
}

func classifyCalls(data []byte) ([]confCall, error) {
	var f struct {
		Cases []struct {
			Name        string  `json:"name"`
			Entity      *string `json:"entity"`
			Relation    *string `json:"relation"`
			InterpretAs *string `json:"interpret_as"`
			Instruction bool    `json:"instruction"`
			Error       string  `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		check := wantOK(strconv.FormatBool(c.Instruction))
		if c.Error != "" {
			check = wantCode(c.Error)
		}
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("classify.json cases[%d]: %s", i, c.Name), Op: abi.OpClassify,
			Input: mustJSON(map[string]any{"entity": c.Entity, "relation": c.Relation, "interpret_as": c.InterpretAs}),
			check: check,
		})
	}
	return calls, nil
}

// mergeCalls passes the caller's detail text as a JSON string, so that
// malformed details reach the core as they are.
func mergeCalls(data []byte) ([]confCall, error) {
	var f struct {
		Cases []struct {
			Name   string          `json:"name"`
			Fact   json.RawMessage `json:"fact"`
			Detail *string         `json:"detail"`
			Merged string          `json:"merged"`
			Error  string          `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		check := wantOK(c.Merged)
		if c.Error != "" {
			check = wantCode(c.Error)
		}
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merge.json cases[%d]: %s", i, c.Name), Op: abi.OpMergeDetail,
			Input: mustJSON(map[string]any{"fact": c.Fact, "detail": c.Detail}),
			check: check,
		})
	}
	return calls, nil
}

// catalogueCalls: every catalogued type builds when its required detail
// keys are present, and one with required keys is refused without them
// (missing_detail_key): the module carries the same catalogue.
func catalogueCalls(data []byte) ([]confCall, error) {
	var f struct {
		Types []struct {
			Name     string            `json:"name"`
			Required []json.RawMessage `json:"required_detail"`
		} `json:"types"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	const now = 1777809600000000000
	var calls []confCall
	for i, t := range f.Types {
		detail := map[string]json.RawMessage{}
		for _, k := range t.Required {
			var named struct {
				Name  string            `json:"name"`
				Type  string            `json:"type"`
				OneOf []json.RawMessage `json:"one_of"`
			}
			if json.Unmarshal(k, &named) == nil && named.Name != "" {
				switch {
				case len(named.OneOf) > 0:
					detail[named.Name] = named.OneOf[0]
				case named.Type == "number":
					detail[named.Name] = json.RawMessage(`1250`)
				case named.Type == "string" || named.Type == "":
					detail[named.Name] = json.RawMessage(`"x"`)
				default:
					return nil, fmt.Errorf("types[%d]: required key %s of a type the adapter has no value for", i, k)
				}
				continue
			}
			var name string
			if err := json.Unmarshal(k, &name); err != nil {
				return nil, fmt.Errorf("types[%d]: required key %s", i, k)
			}
			detail[name] = json.RawMessage(`"x"`)
		}
		req := map[string]any{"id": "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "event_type": t.Name, "entity_uri": "agent:a", "detail": detail}
		if strings.HasPrefix(t.Name, "instruction_") && t.Name != "instruction_audit" {
			req["fact"] = map[string]any{"entity": "instruction:x"}
		}
		v := fmt.Sprintf("catalogue.json types[%d]: %s", i, t.Name)
		calls = append(calls, confCall{Vector: v, Op: abi.OpBuildEvent, Input: mustJSON(req), ClockNS: strconv.FormatInt(now, 10),
			check: func(env []byte) error {
				if err := wantOK("")(env); err != nil {
					return err
				}
				if !strings.Contains(string(env), `"event_type":"`+t.Name+`"`) {
					return fmt.Errorf("built another type: %s", env)
				}
				return nil
			}})
		if len(t.Required) > 0 {
			delete(req, "detail")
			calls = append(calls, confCall{Vector: v + " without its required detail", Op: abi.OpBuildEvent,
				Input: mustJSON(req), ClockNS: strconv.FormatInt(now, 10), check: wantCode("missing_detail_key")})
		}
	}
	return calls, nil
}

// numberCalls: each detail number is built, and kept exactly as the native
// core keeps it or refused as inexact_number.
func numberCalls(data []byte) ([]confCall, error) {
	var f struct {
		NowUnixNS string `json:"now_unix_ns"`
		Cases     []struct {
			Literal string  `json:"literal"`
			Request string  `json:"request"`
			Detail  *string `json:"detail"`
			Error   string  `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	now, err := strconv.ParseInt(f.NowUnixNS, 10, 64)
	if err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		check := wantCode(c.Error)
		if c.Detail != nil {
			detail := *c.Detail
			check = func(env []byte) error {
				if err := wantOK("")(env); err != nil {
					return err
				}
				if !strings.Contains(string(env), `"detail":`+detail+`,`) {
					return fmt.Errorf("want detail %s, got %s", detail, env)
				}
				return nil
			}
		}
		calls = append(calls, buildCall(fmt.Sprintf("numbers.json cases[%d]: %s", i, c.Literal), c.Request, now, "", check))
	}
	return calls, nil
}
