package ocsf_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// schemaDir is the vendored OCSF schema subset (testdata/ocsf-schema/SOURCE.md).
const schemaDir = "testdata/ocsf-schema"

// attr is one attribute of a class or object, resolved: the dictionary's
// entry overlaid with each definition along the extends chain.
type attr struct {
	Type        string
	IsArray     bool
	Requirement string
	Enum        map[string]bool
}

// shape is a resolved class or object: its attributes and its
// at_least_one constraint.
type shape struct {
	Name        string
	Attrs       map[string]*attr
	AtLeastOne  []string
	ClassUID    int // classes only
	CategoryUID int // classes only
}

// defFile is an event class or object file of the OCSF metaschema.
type defFile struct {
	UID         *int                       `json:"uid"`
	Name        string                     `json:"name"`
	Caption     string                     `json:"caption"`
	Category    string                     `json:"category"`
	Extends     string                     `json:"extends"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints struct {
		AtLeastOne []string `json:"at_least_one"`
	} `json:"constraints"`
}

type attrDef struct {
	Type        string                     `json:"type"`
	IsArray     bool                       `json:"is_array"`
	Requirement string                     `json:"requirement"`
	Enum        map[string]json.RawMessage `json:"enum"`
}

// schema is the loaded OCSF schema subset.
type schema struct {
	Version    string
	dict       map[string]attrDef
	baseTypes  map[string]string // type -> its base type ("" for a primitive)
	categories map[string]int
	events     map[string]*defFile // by name
	objects    map[string]*defFile // by name
	classes    map[int]*shape      // by class_uid
	shapes     map[string]*shape   // resolved objects
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loadSchema reads the vendored schema and resolves every class in it.
func loadSchema(t testing.TB) *schema {
	t.Helper()
	s := &schema{events: map[string]*defFile{}, objects: map[string]*defFile{}, classes: map[int]*shape{},
		shapes: map[string]*shape{}, baseTypes: map[string]string{}, categories: map[string]int{}}
	var ver struct{ Version string }
	readJSON(t, filepath.Join(schemaDir, "version.json"), &ver)
	s.Version = ver.Version
	var dict struct {
		Attributes map[string]attrDef `json:"attributes"`
		Types      struct {
			Attributes map[string]struct{ Type string } `json:"attributes"`
		} `json:"types"`
	}
	readJSON(t, filepath.Join(schemaDir, "dictionary.json"), &dict)
	s.dict = dict.Attributes
	for name, ty := range dict.Types.Attributes {
		s.baseTypes[name] = ty.Type
	}
	var cats struct {
		Attributes map[string]struct{ UID int } `json:"attributes"`
	}
	readJSON(t, filepath.Join(schemaDir, "categories.json"), &cats)
	for name, c := range cats.Attributes {
		s.categories[name] = c.UID
	}
	for dir, into := range map[string]map[string]*defFile{"events": s.events, "objects": s.objects} {
		err := filepath.WalkDir(filepath.Join(schemaDir, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			var f defFile
			readJSON(t, path, &f)
			into[f.Name] = &f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, f := range s.events {
		if f.UID == nil && name != "base_event" {
			continue // an abstract parent (application, iam)
		}
		sh := s.resolve(t, s.events, name)
		cat := s.categoryOf(name)
		sh.CategoryUID = s.categories[cat]
		if name == "base_event" {
			sh.ClassUID = 0
		} else {
			sh.ClassUID = sh.CategoryUID*1000 + *f.UID
		}
		// The OCSF compiler fixes these enums per class: its own uid, its
		// category, and class_uid*100 + each activity_id.
		sh.Attrs["class_uid"].Enum = map[string]bool{strconv.Itoa(sh.ClassUID): true}
		sh.Attrs["category_uid"].Enum = map[string]bool{strconv.Itoa(sh.CategoryUID): true}
		typeUIDs := map[string]bool{}
		for k := range sh.Attrs["activity_id"].Enum {
			n, err := strconv.Atoi(k)
			if err != nil {
				t.Fatalf("%s: activity_id %q", name, k)
			}
			typeUIDs[strconv.Itoa(sh.ClassUID*100+n)] = true
		}
		sh.Attrs["type_uid"].Enum = typeUIDs
		s.classes[sh.ClassUID] = sh
	}
	return s
}

// categoryOf finds a class's category along its extends chain.
func (s *schema) categoryOf(name string) string {
	for f := s.events[name]; f != nil; f = s.events[f.Extends] {
		if f.Category != "" {
			return f.Category
		}
	}
	return ""
}

// resolve merges the definitions of name along its extends chain (the
// parent first) over the dictionary. Attributes added by profiles
// ($include) are left out: stigaudit's records apply no profile.
func (s *schema) resolve(t testing.TB, defs map[string]*defFile, name string) *shape {
	t.Helper()
	var chain []*defFile
	for n := name; n != "" && n != "object"; {
		f, ok := defs[n]
		if !ok {
			t.Fatalf("%s: %q is not in %s (copy it into the testdata)", name, n, schemaDir)
		}
		chain = append(chain, f)
		n = f.Extends
	}
	slices.Reverse(chain)
	sh := &shape{Name: name, Attrs: map[string]*attr{}}
	for _, f := range chain {
		if len(f.Constraints.AtLeastOne) > 0 {
			sh.AtLeastOne = f.Constraints.AtLeastOne
		}
		for an, raw := range f.Attributes {
			if an == "$include" {
				continue
			}
			var def attrDef
			if err := json.Unmarshal(raw, &def); err != nil {
				t.Fatalf("%s.%s: %v", f.Name, an, err)
			}
			a := sh.Attrs[an]
			if a == nil {
				d, ok := s.dict[an]
				if !ok {
					t.Fatalf("%s.%s is not in the dictionary", f.Name, an)
				}
				a = &attr{Type: d.Type, IsArray: d.IsArray, Requirement: d.Requirement, Enum: map[string]bool{}}
				for k := range d.Enum {
					a.Enum[k] = true
				}
				sh.Attrs[an] = a
			}
			if def.Type != "" {
				a.Type = def.Type
			}
			if def.Requirement != "" {
				a.Requirement = def.Requirement
			}
			for k := range def.Enum {
				a.Enum[k] = true
			}
		}
	}
	return sh
}

// object returns the resolved object called name.
func (s *schema) object(t testing.TB, name string) *shape {
	if sh, ok := s.shapes[name]; ok {
		return sh
	}
	sh := s.resolve(t, s.objects, name)
	s.shapes[name] = sh
	return sh
}

// primitive returns the JSON type of an OCSF scalar type: "integer",
// "number", "boolean", "string", or "" for json_t (anything).
func (s *schema) primitive(ty string) (string, bool) {
	for {
		base, ok := s.baseTypes[ty]
		if !ok {
			return "", false
		}
		if base == "" {
			break
		}
		ty = base
	}
	switch ty {
	case "integer_t", "long_t":
		return "integer", true
	case "float_t":
		return "number", true
	case "boolean_t":
		return "boolean", true
	case "json_t":
		return "", true
	}
	return "string", true
}

// check reports every way v, a decoded record or object, breaks sh:
// missing required attributes, an unsatisfied at_least_one, attributes the
// shape does not define, values of the wrong JSON type or outside their
// enum, recursively through objects.
func (s *schema) check(t testing.TB, path string, sh *shape, v map[string]any) []string {
	var errs []string
	for name, a := range sh.Attrs {
		if a.Requirement == "required" && v[name] == nil {
			errs = append(errs, fmt.Sprintf("%s.%s: required by %s, missing", path, name, sh.Name))
		}
	}
	if len(sh.AtLeastOne) > 0 && !slices.ContainsFunc(sh.AtLeastOne, func(n string) bool { return v[n] != nil }) {
		errs = append(errs, fmt.Sprintf("%s: %s needs at least one of %v", path, sh.Name, sh.AtLeastOne))
	}
	for name, val := range v {
		a, ok := sh.Attrs[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: %s has no such attribute", path, name, sh.Name))
			continue
		}
		vals := []any{val}
		if a.IsArray {
			arr, ok := val.([]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: want an array", path, name))
				continue
			}
			vals = arr
		}
		for _, x := range vals {
			errs = append(errs, s.checkValue(t, path+"."+name, a, x)...)
		}
	}
	return errs
}

func (s *schema) checkValue(t testing.TB, path string, a *attr, x any) []string {
	if a.Type == "object" { // unmapped: any object
		if _, ok := x.(map[string]any); !ok {
			return []string{path + ": want an object"}
		}
		return nil
	}
	if prim, ok := s.primitive(a.Type); ok {
		var good bool
		switch prim {
		case "integer":
			n, isNum := x.(json.Number)
			_, err := strconv.ParseInt(string(n), 10, 64)
			good = isNum && err == nil
		case "number":
			_, good = x.(json.Number)
		case "boolean":
			_, good = x.(bool)
		case "string":
			_, good = x.(string)
		default:
			good = true
		}
		if !good {
			return []string{fmt.Sprintf("%s: %v is not a JSON %s (%s)", path, x, prim, a.Type)}
		}
		if len(a.Enum) > 0 && !a.Enum[fmt.Sprint(x)] {
			return []string{fmt.Sprintf("%s: %v is not one of its enum values", path, x)}
		}
		return nil
	}
	obj, ok := x.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object (%s)", path, a.Type)}
	}
	return s.check(t, path, s.object(t, a.Type), obj)
}

// jsonSchema generates a JSON Schema (2020-12) for the records of the
// given classes: oneOf the classes, each an object of its attributes
// (additionalProperties false, required ones listed, class_uid a const),
// objects in $defs with their at_least_one as anyOf, enums as enum.
func (s *schema) jsonSchema(t testing.TB, classUIDs []int) map[string]any {
	defs := map[string]any{}
	var todo []string
	propSchema := func(a *attr) map[string]any {
		var one map[string]any
		switch prim, ok := s.primitive(a.Type); {
		case a.Type == "object":
			one = map[string]any{"type": "object"}
		case ok:
			one = map[string]any{}
			if prim != "" {
				one["type"] = prim
			}
			if len(a.Enum) > 0 {
				var enum []any
				for k := range a.Enum {
					if prim == "integer" {
						n, err := strconv.Atoi(k)
						if err != nil {
							t.Fatalf("enum value %q of an integer", k)
						}
						enum = append(enum, n)
					} else {
						enum = append(enum, k)
					}
				}
				one["enum"] = enum
			}
		default:
			if _, done := defs[a.Type]; !done {
				defs[a.Type] = nil
				todo = append(todo, a.Type)
			}
			one = map[string]any{"$ref": "#/$defs/" + a.Type}
		}
		if a.IsArray {
			return map[string]any{"type": "array", "items": one}
		}
		return one
	}
	objectSchema := func(sh *shape) map[string]any {
		props := map[string]any{}
		var req []string
		for name, a := range sh.Attrs {
			props[name] = propSchema(a)
			if a.Requirement == "required" {
				req = append(req, name)
			}
		}
		slices.Sort(req)
		o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(req) > 0 {
			o["required"] = req
		}
		if len(sh.AtLeastOne) > 0 {
			var alts []any
			for _, n := range sh.AtLeastOne {
				alts = append(alts, map[string]any{"required": []string{n}})
			}
			o["anyOf"] = alts
		}
		return o
	}
	var oneOf []any
	for _, uid := range classUIDs {
		sh, ok := s.classes[uid]
		if !ok {
			t.Fatalf("class %d is not in the schema", uid)
		}
		o := objectSchema(sh)
		o["properties"].(map[string]any)["class_uid"] = map[string]any{"const": uid}
		o["properties"].(map[string]any)["category_uid"] = map[string]any{"const": sh.CategoryUID}
		oneOf = append(oneOf, o)
	}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		defs[name] = objectSchema(s.object(t, name))
	}
	return map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "urn:stigaudit:ocsf-records",
		"oneOf":   oneOf,
		"$defs":   defs,
	}
}

// activityCaption returns the caption of a class's activity in the
// schema.
func (s *schema) activityCaption(classUID, activityID int) string {
	for _, f := range s.events {
		if f.UID == nil {
			continue
		}
		sh := s.classes[classUID]
		if sh == nil || sh.Name != f.Name {
			continue
		}
		for n := f; n != nil; n = s.events[n.Extends] {
			var act struct {
				Enum map[string]struct{ Caption string } `json:"enum"`
			}
			if raw, ok := n.Attributes["activity_id"]; ok {
				_ = json.Unmarshal(raw, &act)
				if c, ok := act.Enum[strconv.Itoa(activityID)]; ok {
					return c.Caption
				}
			}
		}
	}
	return "?"
}
