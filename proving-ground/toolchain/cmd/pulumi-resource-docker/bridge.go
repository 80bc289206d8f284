package main

// What the upstream provider's Terraform bridge (pulumi-terraform-bridge, PlanResourceChange)
// does around the Terraform docker provider, for the bridged types (Container, Network, Volume,
// RemoteImage), as recorded from upstream in tests/e2e/vectors/upstream.json:
//
//   - Check fills the schema's non-zero defaults into the inputs and lists the filled keys, sorted,
//     in `__defaults` (also in every nested object, `[]` when none was filled);
//   - outputs carry no `__defaults`; nested objects carry every field of their schema block
//     (empty string, empty list or null when unset);
//   - Diff plans the new inputs against the last READ-BACK state (not the old inputs): a value the
//     engine reports differently from what was declared is a diff on every preview. Fields the
//     program leaves unset that the schema marks Computed take the state's value (no diff).

import (
	"encoding/json"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const defaultsKey = "__defaults"

// fieldDefault is one schema default: the value the bridge fills in when the input is unset.
type fieldDefault struct {
	key   string
	value resource.PropertyValue
}

// block describes one schema block: its defaults, its nested object fields, and the zero values
// of the fields outputs carry when unset.
type block struct {
	defaults []fieldDefault
	nested   map[string]*block                 // key -> block of each element (list/set of objects) or the object
	outZero  map[string]resource.PropertyValue // output fields present even when unset
}

// applyDefaults fills b's defaults into m (a copy) and records `__defaults`, recursively.
func (b *block) applyDefaults(m resource.PropertyMap, extra ...string) resource.PropertyMap {
	out := m.Copy()
	filled := append([]string{}, extra...)
	for _, d := range b.defaults {
		if v, ok := out[resource.PropertyKey(d.key)]; !ok || v.IsNull() {
			out[resource.PropertyKey(d.key)] = d.value
			filled = append(filled, d.key)
		}
	}
	for key, nb := range b.nested {
		v, ok := out[resource.PropertyKey(key)]
		if !ok || v.IsNull() {
			continue
		}
		out[resource.PropertyKey(key)] = mapObjects(v, func(o resource.PropertyMap) resource.PropertyMap {
			return nb.applyDefaults(o)
		})
	}
	sort.Strings(filled)
	list := make([]resource.PropertyValue, 0, len(filled))
	for _, f := range filled {
		list = append(list, resource.NewStringProperty(f))
	}
	out[defaultsKey] = resource.NewArrayProperty(list)
	return out
}

// outputs turns checked inputs into the state's shape: no `__defaults`, every nested field.
func (b *block) outputs(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if k == defaultsKey {
			continue
		}
		out[k] = v
	}
	for key, nb := range b.nested {
		v, ok := out[resource.PropertyKey(key)]
		if !ok || v.IsNull() {
			continue
		}
		out[resource.PropertyKey(key)] = mapObjects(v, func(o resource.PropertyMap) resource.PropertyMap {
			o = nb.outputs(o)
			for f, zero := range nb.outZero {
				if cur, ok := o[resource.PropertyKey(f)]; !ok || cur.IsNull() {
					o[resource.PropertyKey(f)] = zero
				}
			}
			return o
		})
	}
	return out
}

// mapObjects applies f to an object, or to each object of a list; secrets stay secret.
func mapObjects(v resource.PropertyValue, f func(resource.PropertyMap) resource.PropertyMap) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(mapObjects(v.SecretValue().Element, f))
	case v.IsObject():
		return resource.NewObjectProperty(f(v.ObjectValue()))
	case v.IsArray():
		items := make([]resource.PropertyValue, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			items = append(items, mapObjects(e, f))
		}
		return resource.NewArrayProperty(items)
	default:
		return v
	}
}

func str(s string) resource.PropertyValue   { return resource.NewStringProperty(s) }
func num(n float64) resource.PropertyValue  { return resource.NewNumberProperty(n) }
func boolean(b bool) resource.PropertyValue { return resource.NewBoolProperty(b) }
func null() resource.PropertyValue          { return resource.NewNullProperty() }
func emptyList() resource.PropertyValue     { return resource.NewArrayProperty(nil) }
func emptyBlock() *block                    { return &block{} }

// stringMap: a map the engine reports (nil: null).
func stringMap(m map[string]string) resource.PropertyValue {
	if m == nil {
		return null()
	}
	pm := resource.PropertyMap{}
	for k, v := range m {
		pm[resource.PropertyKey(k)] = str(v)
	}
	return resource.NewObjectProperty(pm)
}

// ---- planning against the read-back state --------------------------------------------------

// tfEqual reports whether a declared input equals the state's value as Terraform plans it: an
// unset field equals an empty or zero one, set-typed lists compare without order, and fields
// only the state has (nested outputs) equal their zero values.
func tfEqual(declared, state resource.PropertyValue, set bool) bool {
	return canonical(declared, set) == canonical(state, set)
}

// canonical renders a value for comparison: zero values dropped, `__defaults` dropped, secrets
// unwrapped, lists sorted when set.
func canonical(v resource.PropertyValue, set bool) string {
	data, _ := json.Marshal(canon(v, set))
	return string(data)
}

func canon(v resource.PropertyValue, set bool) any {
	switch {
	case v.IsSecret():
		return canon(v.SecretValue().Element, set)
	case v.IsNull():
		return nil
	case v.IsString():
		if v.StringValue() == "" {
			return nil
		}
		return v.StringValue()
	case v.IsBool():
		if !v.BoolValue() {
			return nil
		}
		return true
	case v.IsNumber():
		if v.NumberValue() == 0 {
			return nil
		}
		return v.NumberValue()
	case v.IsArray():
		if len(v.ArrayValue()) == 0 {
			return nil
		}
		items := make([]string, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			data, _ := json.Marshal(canon(e, true))
			items = append(items, string(data))
		}
		if set {
			sort.Strings(items)
		}
		return items
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			if k == defaultsKey {
				continue
			}
			if c := canon(e, true); c != nil {
				m[string(k)] = c
			}
		}
		if len(m) == 0 {
			return nil
		}
		return m
	default:
		return nil
	}
}
