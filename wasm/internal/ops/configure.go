package ops

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
)

// configure: {"catalogue":{"event_types":[...]},"max_detail_bytes":n,
// "max_detail_depth":n}, each member optional → the catalogue (the
// default one extended by the operator's types, docs/catalogue.md) and detail limits
// (docs/event-format.md#detail) that build_event and emit use from now on, set as h.Builder;
// the value is {"event_types":n,"max_detail_bytes":n,"max_detail_depth":n}.
// Every refusal is invalid_config and leaves h as it was. See
// abi.OpConfigure.
func configure(dst []byte, h *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "configure", "catalogue", "max_detail_bytes", "max_detail_depth")
	if err != nil {
		return nil, configError(err)
	}
	b := &event.Builder{Catalogue: catalog.Default()}
	if v, ok := o["catalogue"]; ok && string(v) != "null" {
		if b.Catalogue, err = b.Catalogue.Extend(v); err != nil {
			return nil, err
		}
	}
	if b.Limits.MaxDetailBytes, err = o.limit("max_detail_bytes", event.DefaultMaxDetailBytes); err != nil {
		return nil, err
	}
	if b.Limits.MaxDetailDepth, err = o.limit("max_detail_depth", event.DefaultMaxDetailDepth); err != nil {
		return nil, err
	}
	h.Builder = b
	dst = append(dst, `{"event_types":`...)
	dst = strconv.AppendInt(dst, int64(b.Catalogue.Len()), 10)
	dst = append(dst, `,"max_detail_bytes":`...)
	dst = strconv.AppendInt(dst, int64(b.Limits.MaxDetailBytes), 10)
	dst = append(dst, `,"max_detail_depth":`...)
	dst = strconv.AppendInt(dst, int64(b.Limits.MaxDetailDepth), 10)
	return append(dst, '}'), nil
}

// maxLimit bounds a configured limit: no input is larger than
// abi.MaxInput, and a detail cannot nest as deep as the whole draft may.
const maxLimit = 1 << 30

// limit reads an optional limit: a positive integer, or null or absent for
// def.
func (o object) limit(name string, def int) (int, error) {
	v, ok := o[name]
	if !ok || string(v) == "null" {
		return def, nil
	}
	n, err := strconv.ParseUint(string(v), 10, 31)
	if err != nil || n == 0 || n > maxLimit {
		return 0, auditerr.Errorf(auditerr.ErrInvalidConfig, "configure: %s must be an integer from 1 to %d", name, maxLimit)
	}
	return int(n), nil
}

// configError reports a malformed configure input as invalid_config,
// keeping its message.
func configError(err error) error {
	if auditerr.CodeOf(err) == auditerr.ErrInvalidConfig.Code {
		return err
	}
	return auditerr.Errorf(auditerr.ErrInvalidConfig, "%s", err.Error())
}
