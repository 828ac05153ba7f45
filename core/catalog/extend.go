package catalog

import (
	"slices"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// Extend returns a new catalogue holding c's types and the operator types
// of the JSON configuration config (see the package documentation). c is
// not changed. Any malformed entry, unknown member, invalid name or name
// that already exists (in c or earlier in config) fails with invalid_config
// and nothing is added.
func (c *Catalogue) Extend(config []byte) (*Catalogue, error) {
	canon, err := jcs.Canonicalize(nil, config, jcs.Limits{MaxInput: MaxConfigBytes, MaxDepth: 8})
	if err != nil {
		return nil, configErr("catalogue config: %v", err)
	}
	if canon[0] != '{' {
		return nil, configErr("catalogue config: must be a JSON object")
	}
	var list []byte
	it := jcs.Members(canon)
	for it.Next() {
		m := it.Member()
		if !m.NameIs("event_types") {
			return nil, configErr("catalogue config: unknown member %q", m.Name())
		}
		list = m.Value
	}
	if list == nil {
		return nil, configErr(`catalogue config: missing "event_types"`)
	}
	if list[0] != '[' {
		return nil, configErr(`catalogue config: "event_types" must be an array`)
	}
	types := slices.Clone(c.sorted)
	seen := make(map[string]bool)
	el := jcs.Elements(list)
	for i := 0; el.Next(); i++ {
		t, err := parseType(el.Member().Value)
		if err != nil {
			return nil, configErr("catalogue config: event_types[%d]: %v", i, err)
		}
		if _, dup := c.byName[t.name]; dup || seen[t.name] {
			return nil, configErr("catalogue config: event_types[%d]: type %q already exists", i, t.name)
		}
		seen[t.name] = true
		types = append(types, t)
	}
	return newCatalogue(types), nil
}

func configErr(format string, args ...any) error {
	return auditerr.Errorf(auditerr.ErrInvalidConfig, format, args...)
}

type fieldError string

func (e fieldError) Error() string { return string(e) }

// parseType reads one {"name","critical","required_detail","ocsf"} entry.
func parseType(v []byte) (Type, error) {
	t := Type{family: FamilyOperator, critical: true}
	if v[0] != '{' {
		return t, fieldError("must be an object")
	}
	hasName := false
	it := jcs.Members(v)
	for it.Next() {
		m := it.Member()
		switch {
		case m.NameIs("name"):
			s, ok := jcs.Unquote(m.Value)
			if !ok || !ValidName(s) {
				return t, fieldError(`"name" must be a string matching ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$ of at most 128 bytes, not ` + clip(m.Value))
			}
			t.name, hasName = s, true
		case m.NameIs("critical"):
			switch string(m.Value) {
			case "true":
				t.critical = true
			case "false":
				t.critical = false
			default:
				return t, fieldError(`"critical" must be true or false`)
			}
		case m.NameIs("required_detail"):
			ks, err := parseKeys(m.Value)
			if err != nil {
				return t, err
			}
			t.required = ks
		case m.NameIs("ocsf"):
			c, a, err := parseOCSF(m.Value)
			if err != nil {
				return t, err
			}
			t.ocsfClass, t.ocsfActivity = c, a
		default:
			return t, fieldError("unknown member " + clip([]byte(m.Name())))
		}
	}
	if !hasName {
		return t, fieldError(`"name" is required`)
	}
	return t, nil
}

// parseOCSF reads {"class_uid":n,"activity_id":n}: an OCSF class uid
// (1 to 999999) and activity id (0 to 99), both required. Which classes a
// server can render is the server's to check.
func parseOCSF(v []byte) (classUID, activityID int, err error) {
	const shape = `"ocsf" must be {"class_uid": 1..999999, "activity_id": 0..99}`
	if v[0] != '{' {
		return 0, 0, fieldError(shape)
	}
	classUID, activityID = -1, -1
	it := jcs.Members(v)
	for it.Next() {
		m := it.Member()
		n, err := strconv.Atoi(string(m.Value))
		switch {
		case err != nil:
			return 0, 0, fieldError(shape)
		case m.NameIs("class_uid") && n >= 1 && n <= 999999:
			classUID = n
		case m.NameIs("activity_id") && n >= 0 && n <= 99:
			activityID = n
		default:
			return 0, 0, fieldError(shape)
		}
	}
	if classUID < 0 || activityID < 0 {
		return 0, 0, fieldError(shape)
	}
	return classUID, activityID, nil
}

func parseKeys(v []byte) ([]Key, error) {
	if v[0] != '[' {
		return nil, fieldError(`"required_detail" must be an array`)
	}
	var ks []Key
	it := jcs.Elements(v)
	for it.Next() {
		e := it.Member().Value
		var k Key
		if e[0] == '"' {
			k.Name, _ = jcs.Unquote(e)
		} else if e[0] == '{' {
			var err error
			if k, err = parseKey(e); err != nil {
				return nil, err
			}
		} else {
			return nil, fieldError(`each "required_detail" entry must be a key name or {"name","type","one_of"}`)
		}
		if k.Name == "" || len(k.Name) > MaxNameLen {
			return nil, fieldError("a required detail key name must have 1 to 128 bytes")
		}
		for _, o := range ks {
			if o.Name == k.Name {
				return nil, fieldError("required detail key " + clip([]byte(k.Name)) + " is listed twice")
			}
		}
		ks = append(ks, k)
	}
	if len(ks) > MaxRequired {
		return nil, fieldError("more than 64 required detail keys")
	}
	slices.SortFunc(ks, func(a, b Key) int { return jcs.Compare(a.Name, b.Name) })
	return ks, nil
}

func parseKey(v []byte) (Key, error) {
	var k Key
	hasOneOf := false
	it := jcs.Members(v)
	for it.Next() {
		m := it.Member()
		switch {
		case m.NameIs("name"):
			s, ok := jcs.Unquote(m.Value)
			if !ok {
				return k, fieldError(`a required key's "name" must be a string`)
			}
			k.Name = s
		case m.NameIs("type"):
			s, ok := jcs.Unquote(m.Value)
			if !ok || !ValidJSONType(JSONType(s)) {
				return k, fieldError(`a required key's "type" must be "string", "number", "boolean", "object" or "array", not ` + clip(m.Value))
			}
			k.Type = JSONType(s)
		case m.NameIs("one_of"):
			hasOneOf = true
			if m.Value[0] != '[' {
				return k, fieldError(`"one_of" must be an array`)
			}
			vs := jcs.Elements(m.Value)
			for vs.Next() {
				val := string(vs.Member().Value)
				if val[0] == '{' || val[0] == '[' || val == "null" {
					return k, fieldError(`"one_of" values must be strings, numbers or booleans`)
				}
				if !slices.Contains(k.OneOf, val) {
					k.OneOf = append(k.OneOf, val)
				}
			}
		default:
			return k, fieldError("unknown member " + clip([]byte(m.Name())) + " in a required key")
		}
	}
	if hasOneOf && len(k.OneOf) == 0 {
		return k, fieldError(`"one_of" must not be empty`)
	}
	if k.Type != AnyType {
		for _, v := range k.OneOf {
			if typeOf([]byte(v)) != k.Type {
				return k, fieldError(`"one_of" value ` + clip([]byte(v)) + ` of key ` + clip([]byte(k.Name)) + ` is not a JSON ` + string(k.Type))
			}
		}
	}
	return k, nil
}

// String returns the key as it is written in a configuration file: its
// name alone when it declares neither a type nor values, else
// {"name","one_of","type"} with the members it has, in canonical order.
func (k Key) String() string {
	if len(k.OneOf) == 0 && k.Type == AnyType {
		return string(jcs.AppendString(nil, k.Name))
	}
	s := `{"name":` + string(jcs.AppendString(nil, k.Name))
	if len(k.OneOf) > 0 {
		s += `,"one_of":[` + strings.Join(k.OneOf, ",") + `]`
	}
	if k.Type != AnyType {
		s += `,"type":` + string(jcs.AppendString(nil, string(k.Type)))
	}
	return s + "}"
}
