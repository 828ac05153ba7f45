package ocsf

import (
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Product names in metadata.product.
const (
	ProductName = "stigaudit"
	VendorName  = "stigaudit"
)

// module is the module whose version metadata.product.version reports.
const module = "github.com/stigaudit/stigaudit"

// ProductVersion returns the stigaudit version built into the binary (its
// module version from runtime/debug build information), or "(devel)" when
// it is unknown, as in a build from a work tree.
var ProductVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Path == module && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module && d.Version != "" {
			return d.Version
		}
	}
	return "(devel)"
})

// prefixes holds the rendered classification members of each Table row,
// and of Default at index len(Table).
var prefixes = sync.OnceValue(func() [][]byte {
	out := make([][]byte, len(Table)+1)
	for i := range Table {
		out[i] = appendPrefix(nil, &Table[i])
	}
	out[len(Table)] = appendPrefix(nil, &Default)
	return out
})

var rowOf = func() map[string]int {
	m := make(map[string]int, len(Table))
	for i := range Table {
		m[Table[i].EventType] = i
	}
	return m
}()

// appendPrefix renders the members a record's class and activity fix.
func appendPrefix(b []byte, m *Mapping) []byte {
	c := classes[m.ClassUID]
	act := c.activities[m.ActivityID]
	b = append(b, `{"activity_id":`...)
	b = strconv.AppendInt(b, int64(m.ActivityID), 10)
	b = append(b, `,"activity_name":`...)
	b = jcs.AppendString(b, act)
	b = append(b, `,"category_name":`...)
	b = jcs.AppendString(b, c.category)
	b = append(b, `,"category_uid":`...)
	b = strconv.AppendInt(b, int64(m.CategoryUID()), 10)
	b = append(b, `,"class_name":`...)
	b = jcs.AppendString(b, c.name)
	b = append(b, `,"class_uid":`...)
	b = strconv.AppendInt(b, int64(m.ClassUID), 10)
	b = append(b, `,"type_name":`...)
	b = jcs.AppendString(b, c.name+": "+act)
	b = append(b, `,"type_uid":`...)
	b = strconv.AppendInt(b, int64(m.TypeUID()), 10)
	b = append(b, `,"severity_id":`...)
	b = strconv.AppendInt(b, int64(m.SeverityID), 10)
	b = append(b, `,"severity":`...)
	return jcs.AppendString(b, severityNames[m.SeverityID])
}

// Encoder renders events as OCSF records. It is cheap to make, holds the
// pre-rendered parts common to every record of one log, and is safe for
// concurrent use.
type Encoder struct {
	// declared maps the operator types that declare their OCSF class
	// (WithCatalogue) to their mapping and rendered prefix.
	declared map[string]*declared
	origin   string
	metadata []byte // `,"metadata":{...,"log_name":<origin>,"uid":`
	endpoint []byte // `,"src_endpoint":{"name":<origin>}`
}

// NewEncoder returns an Encoder for the log called origin (the first line
// of its checkpoints, e.g. "stigaudit/local"): metadata.log_name and, since
// stigaudit records no client address yet, src_endpoint.name.
func NewEncoder(origin string) *Encoder {
	enc := &Encoder{origin: origin}
	b := append([]byte(nil), `,"metadata":{"version":`...)
	b = jcs.AppendString(b, SchemaVersion)
	b = append(b, `,"product":{"name":`...)
	b = jcs.AppendString(b, ProductName)
	b = append(b, `,"vendor_name":`...)
	b = jcs.AppendString(b, VendorName)
	b = append(b, `,"version":`...)
	b = jcs.AppendString(b, ProductVersion())
	b = append(b, `},"log_provider":`...)
	b = jcs.AppendString(b, ProductName)
	b = append(b, `,"log_name":`...)
	b = jcs.AppendString(b, origin)
	enc.metadata = append(b, `,"uid":`...)
	b = append([]byte(nil), `,"src_endpoint":{"name":`...)
	b = jcs.AppendString(b, origin)
	enc.endpoint = append(b, '}')
	return enc
}

// declared is an operator type's own mapping.
type declared struct {
	m      Mapping
	prefix []byte
}

// WithCatalogue returns a copy of enc that also maps the operator types of
// cat that declare an OCSF class and activity in the catalogue file
// (catalog.Type.OCSF); the others keep Default. A declaration this package
// cannot render — a class other than API Activity (6003), Authentication
// (3002) or Entity Management (3004), or an activity the class does not
// define — is an error wrapping auditerr.ErrInvalidConfig, so a server
// refuses it at start.
func (enc *Encoder) WithCatalogue(cat *catalog.Catalogue) (*Encoder, error) {
	out := *enc
	out.declared = map[string]*declared{}
	for _, t := range cat.Types() {
		class, act, ok := t.OCSF()
		if !ok {
			continue
		}
		c, known := classes[class]
		if !known {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "event type %q: OCSF class %d cannot be rendered (use %d, %d or %d)", t.Name(), class, ClassAPIActivity, ClassAuthentication, ClassEntityManagement)
		}
		if _, known := c.activities[act]; !known {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "event type %q: class %d (%s) has no activity %d", t.Name(), class, c.name, act)
		}
		m := Mapping{EventType: t.Name(), ClassUID: class, ActivityID: act, SeverityID: SeverityInformational, Entity: t.Name()}
		out.declared[t.Name()] = &declared{m: m, prefix: appendPrefix(nil, &m)}
	}
	return &out, nil
}

// Lookup returns the mapping enc applies to eventType: its Table row, an
// operator type's declaration (WithCatalogue), or Default.
func (enc *Encoder) Lookup(eventType string) Mapping {
	if _, ok := rowOf[eventType]; !ok {
		if d, ok := enc.declared[eventType]; ok {
			return d.m
		}
	}
	return Lookup(eventType)
}

// Origin returns the log's origin the Encoder was made for.
func (enc *Encoder) Origin() string { return enc.origin }

// AppendRecord appends the OCSF record of e as a JSON object (no newline).
// proof, when not nil, is e's inclusion proof, kept in unmapped.proof.
// An event whose content a retention purge removed (no entity_uri) keeps
// its classification, time, ids and hashes; its actor is named "purged"
// and unmapped.purged is true.
func (enc *Encoder) AppendRecord(dst []byte, e *event.Event, proof *merkle.InclusionProof) []byte {
	m, prefix := &Default, prefixes()[len(Table)]
	if row, ok := rowOf[e.Type]; ok {
		m, prefix = &Table[row], prefixes()[row]
	} else if d, ok := enc.declared[e.Type]; ok {
		m, prefix = &d.m, d.prefix
	}
	dst = append(dst, prefix...)

	// Status from the outcome; a type that records a failure fails.
	switch {
	case e.Outcome == event.OutcomeSuccess && !m.Failure:
		dst = append(dst, `,"status_id":1,"status":"Success"`...)
	case e.Outcome == event.OutcomeDenied:
		dst = append(dst, `,"status_id":2,"status":"Failure","status_detail":"denied"`...)
	default:
		dst = append(dst, `,"status_id":2,"status":"Failure"`...)
	}
	dst = append(dst, `,"status_code":`...)
	dst = jcs.AppendString(dst, e.Outcome)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, epochMillis(e.TS), 10)

	dst = append(dst, enc.metadata...)
	dst = jcs.AppendString(dst, e.ID)
	dst = append(dst, `,"tenant_uid":`...)
	dst = jcs.AppendString(dst, e.Tenant)
	dst = append(dst, `,"original_time":`...)
	dst = jcs.AppendString(dst, e.TS)
	dst = append(dst, '}')

	purged := e.EntityURI == ""
	dst = append(dst, `,"actor":{"user":`...)
	dst = appendUser(dst, e, purged)
	if e.Emitter != "" {
		dst = append(dst, `,"app_name":`...)
		dst = jcs.AppendString(dst, e.Emitter)
	}
	dst = append(dst, '}')
	dst = append(dst, enc.endpoint...)

	switch m.ClassUID {
	case ClassAPIActivity:
		dst = append(dst, `,"api":{"operation":`...)
		dst = jcs.AppendString(dst, e.Type)
		dst = append(dst, `,"service":{"name":"stigaudit"}}`...)
		if e.FactID != "" {
			dst = append(dst, `,"resources":[{"type":"fact","uid":`...)
			dst = jcs.AppendString(dst, e.FactID)
			dst = append(dst, `}]`...)
		}
	case ClassAuthentication:
		// The service authenticated to is this stigaudit node.
		dst = append(dst, `,"service":{"name":"stigaudit"},"user":`...)
		dst = appendUser(dst, e, purged)
	case ClassEntityManagement:
		dst = append(dst, `,"entity":{"type":`...)
		dst = jcs.AppendString(dst, m.Entity)
		switch uid := detailString(e.Detail, m.EntityKey); {
		case uid != nil:
			dst = append(dst, `,"uid":`...)
			dst = append(dst, uid...)
		case e.FactID != "":
			dst = append(dst, `,"uid":`...)
			dst = jcs.AppendString(dst, e.FactID)
		default:
			dst = append(dst, `,"name":`...)
			dst = jcs.AppendString(dst, m.Entity)
		}
		dst = append(dst, '}')
	}

	dst = append(dst, `,"unmapped":{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"leaf_hash":"`...)
	dst = merkle.AppendHex(dst, e.LeafHash[:])
	dst = append(dst, `","tenant_id":`...)
	dst = jcs.AppendString(dst, e.Tenant)
	dst = append(dst, `,"event_type":`...)
	dst = jcs.AppendString(dst, e.Type)
	if !purged {
		dst = append(dst, `,"source":`...)
		dst = jcs.AppendString(dst, e.Source)
	}
	for _, f := range [...]struct{ name, v string }{
		{`,"scope":`, e.Scope}, {`,"hlc":`, e.HLC}, {`,"attested_key_id":`, e.AttestedKeyID},
	} {
		if f.v != "" {
			dst = append(dst, f.name...)
			dst = jcs.AppendString(dst, f.v)
		}
	}
	if e.Detail != nil {
		dst = append(dst, `,"detail":`...)
		dst = append(dst, e.Detail...)
	}
	if proof != nil {
		dst = append(dst, `,"proof":`...)
		dst = proof.AppendCanonicalJSON(dst)
	}
	if purged {
		dst = append(dst, `,"purged":true`...)
	}
	return append(dst, `}}`...)
}

// appendUser writes the acting principal as an OCSF user: uid the
// entity_uri, uid_alt the OIDC subject.
func appendUser(dst []byte, e *event.Event, purged bool) []byte {
	if purged {
		return append(dst, `{"name":"purged"}`...)
	}
	dst = append(dst, `{"uid":`...)
	dst = jcs.AppendString(dst, e.EntityURI)
	if e.OIDCSub != "" {
		dst = append(dst, `,"uid_alt":`...)
		dst = jcs.AppendString(dst, e.OIDCSub)
	}
	return append(dst, '}')
}

// detailString returns the canonical JSON string value of the detail
// member key, or nil when there is none (or it is not a string).
func detailString(detail []byte, key string) []byte {
	if key == "" || detail == nil {
		return nil
	}
	it := jcs.Members(detail)
	for it.Next() {
		if m := it.Member(); m.NameIs(key) {
			if len(m.Value) > 0 && m.Value[0] == '"' {
				return m.Value
			}
			return nil
		}
	}
	return nil
}

// epochMillis converts an event's fixed-width ts
// ("2026-05-03T12:00:00.123456Z") to Unix milliseconds, without the
// general parser; another form falls back to time.Parse, and 0 when that
// fails too (a stored event's ts is always the fixed-width form).
func epochMillis(ts string) int64 {
	if len(ts) == len(event.TSLayout) {
		var n [7]int
		pos := [...][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 26}}
		okDigits := ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' && ts[19] == '.' && ts[26] == 'Z'
		for i, p := range pos {
			if !okDigits {
				break
			}
			for j := p[0]; j < p[1]; j++ {
				c := ts[j]
				if c < '0' || c > '9' {
					okDigits = false
					break
				}
				n[i] = n[i]*10 + int(c-'0')
			}
		}
		if okDigits {
			return time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*1000, time.UTC).UnixMilli()
		}
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}
