package main

// The order of a Terraform set in the state: the SDK (terraform-plugin-sdk/v2 schema.Set) lists
// its elements sorted by their hash codes compared as decimal strings, the hash being
// crc32(SerializeResourceForHash) for objects and crc32(value) for strings (schema.HashString).
// Upstream's state (and every read back) holds a service's mounts, configs, secrets, networks
// and constraints in that order, whatever order the program declared them in.

import (
	"hash/crc32"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// hField is one attribute of a set element's schema, in Terraform's name order.
type hField struct {
	tf, pulumi string
	kind       byte     // 's' string, 'b' bool, 'i' int, 'm' map, 'S' set of strings, 'L' list block, 'O' set of objects
	elem       []hField // of 'L' and 'O'
}

func hashcode(s string) int {
	v := int(int32(crc32.ChecksumIEEE([]byte(s))))
	if v < 0 {
		v = -v
	}
	return v
}

// serializeObject is SerializeResourceForHash over an element with every attribute present
// (the SDK's readers give unset ones their zero value).
func serializeObject(b *strings.Builder, m resource.PropertyMap, fields []hField) {
	for _, f := range fields {
		b.WriteString(f.tf)
		b.WriteByte(':')
		v := unsecret(m[resource.PropertyKey(f.pulumi)])
		switch f.kind {
		case 's':
			if v.IsString() {
				b.WriteString(v.StringValue())
			}
		case 'b':
			if v.IsBool() && v.BoolValue() {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		case 'i':
			n := 0
			if v.IsNumber() {
				n = int(v.NumberValue())
			}
			b.WriteString(strconv.Itoa(n))
		case 'm':
			b.WriteByte('[')
			if v.IsObject() {
				keys := v.ObjectValue().StableKeys()
				for _, k := range keys {
					b.WriteString(string(k) + ":" + plainString(v.ObjectValue()[k]) + ";")
				}
			}
			b.WriteByte(']')
		case 'S':
			b.WriteByte('{')
			for _, e := range sortedSet(v, nil) {
				b.WriteString(plainString(e) + ";")
			}
			b.WriteByte('}')
		case 'L', 'O':
			open, shut := byte('('), byte(')')
			if f.kind == 'O' {
				open, shut = '{', '}'
			}
			b.WriteByte(open)
			var elems []resource.PropertyValue
			switch {
			case v.IsObject():
				elems = []resource.PropertyValue{v}
			case v.IsArray():
				elems = v.ArrayValue()
				if f.kind == 'O' {
					elems = sortedSet(v, f.elem)
				}
			}
			for _, e := range elems {
				b.WriteByte('<')
				if e.IsObject() {
					serializeObject(b, e.ObjectValue(), f.elem)
				}
				b.WriteString(">;")
			}
			b.WriteByte(shut)
		}
		b.WriteByte(';')
	}
}

func plainString(v resource.PropertyValue) string {
	v = unsecret(v)
	if v.IsString() {
		return v.StringValue()
	}
	if v.IsNumber() {
		return strconv.Itoa(int(v.NumberValue()))
	}
	return ""
}

// sortedSet: a set's elements in the SDK's order (fields nil: a set of strings).
func sortedSet(v resource.PropertyValue, fields []hField) []resource.PropertyValue {
	v = unsecret(v)
	if !v.IsArray() || v.ContainsUnknowns() {
		if v.IsArray() {
			return v.ArrayValue()
		}
		return nil
	}
	type keyed struct {
		code string
		v    resource.PropertyValue
	}
	var items []keyed
	for _, e := range v.ArrayValue() {
		var b strings.Builder
		if fields == nil {
			b.WriteString(plainString(e))
		} else if e.IsObject() {
			serializeObject(&b, e.ObjectValue(), fields)
		}
		items = append(items, keyed{strconv.Itoa(hashcode(b.String())), e})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].code < items[j].code })
	out := make([]resource.PropertyValue, 0, len(items))
	for _, it := range items {
		out = append(out, it.v)
	}
	return out
}

var (
	mountHash = []hField{
		{"bind_options", "bindOptions", 'L', []hField{{"propagation", "propagation", 's', nil}}},
		{"read_only", "readOnly", 'b', nil}, {"source", "source", 's', nil}, {"target", "target", 's', nil},
		{"tmpfs_options", "tmpfsOptions", 'L', []hField{{"mode", "mode", 'i', nil}, {"size_bytes", "sizeBytes", 'i', nil}}},
		{"type", "type", 's', nil},
		{"volume_options", "volumeOptions", 'L', []hField{
			{"driver_name", "driverName", 's', nil}, {"driver_options", "driverOptions", 'm', nil},
			{"labels", "labels", 'O', []hField{{"label", "label", 's', nil}, {"value", "value", 's', nil}}},
			{"no_copy", "noCopy", 'b', nil}}},
	}
	configRefHash = []hField{{"config_id", "configId", 's', nil}, {"config_name", "configName", 's', nil},
		{"file_gid", "fileGid", 's', nil}, {"file_mode", "fileMode", 'i', nil}, {"file_name", "fileName", 's', nil},
		{"file_uid", "fileUid", 's', nil}}
	secretRefHash = []hField{{"file_gid", "fileGid", 's', nil}, {"file_mode", "fileMode", 'i', nil},
		{"file_name", "fileName", 's', nil}, {"file_uid", "fileUid", 's', nil}, {"secret_id", "secretId", 's', nil},
		{"secret_name", "secretName", 's', nil}}
	networkHash = []hField{{"aliases", "aliases", 'S', nil}, {"driver_opts", "driverOpts", 'S', nil},
		{"id", "id", 's', nil}, {"name", "name", 's', nil}}
)

// orderSets puts a service's sets (in outputs) in the SDK's order.
func orderSets(out resource.PropertyMap) resource.PropertyMap {
	ts := objOrNil(out["taskSpec"])
	if ts == nil {
		return out
	}
	ts = ts.Copy()
	if cs := objOrNil(ts["containerSpec"]); cs != nil {
		cs = cs.Copy()
		for key, f := range map[string][]hField{"mounts": mountHash, "configs": configRefHash, "secrets": secretRefHash} {
			if v := cs[resource.PropertyKey(key)]; v.IsArray() {
				cs[resource.PropertyKey(key)] = resource.NewArrayProperty(sortedSet(v, f))
			}
		}
		ts["containerSpec"] = resource.NewObjectProperty(cs)
	}
	if v := ts["networksAdvanceds"]; v.IsArray() {
		ts["networksAdvanceds"] = resource.NewArrayProperty(sortedSet(v, networkHash))
	}
	if pl := objOrNil(ts["placement"]); pl != nil {
		pl = pl.Copy()
		for _, key := range []resource.PropertyKey{"constraints", "prefs"} {
			if v := pl[key]; v.IsArray() {
				pl[key] = resource.NewArrayProperty(sortedSet(v, nil))
			}
		}
		ts["placement"] = resource.NewObjectProperty(pl)
	}
	out = out.Copy()
	out["taskSpec"] = resource.NewObjectProperty(ts)
	return out
}
