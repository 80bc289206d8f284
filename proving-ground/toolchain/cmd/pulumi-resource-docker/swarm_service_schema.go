package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Service: schema ----------------------------------------------------------------------

type serviceKind struct{}

func (serviceKind) supported() []string {
	return []string{"name", "labels", "auth", "taskSpec", "mode", "updateConfig", "rollbackConfig",
		"endpointSpec", "convergeConfig"}
}

// updateKeys: replacement is decided by serviceReplaces (nested ForceNew fields).
func (serviceKind) updateKeys() []string { return serviceKind{}.supported() }
func (serviceKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (serviceKind) setKeys() map[string]bool { return nil }
func (serviceKind) shape() *tfShape          { return serviceShape }

var updateRollbackDefaults = []fieldDefault{
	{"delay", str("0s")}, {"failureAction", str("pause")}, {"maxFailureRatio", str("0.0")},
	{"monitor", str("5s")}, {"order", str("stop-first")}, {"parallelism", num(1)},
}

var fileRefDefaults = []fieldDefault{{"fileGid", str("0")}, {"fileMode", num(292)}, {"fileUid", str("0")}}

// serviceSchema: the Terraform defaults the bridge fills in at Check (`__defaults`), and the zero
// values set elements carry in the state (strings "", lists [], an unset bool null).
var serviceSchema = &block{nested: map[string]*block{
	"taskSpec": {nested: map[string]*block{
		"containerSpec": {
			defaults: []fieldDefault{{"isolation", str("default")}},
			nested: map[string]*block{
				"healthcheck": {defaults: []fieldDefault{
					{"interval", str("0s")}, {"startPeriod", str("0s")}, {"timeout", str("0s")}}},
				"mounts": {
					nested: map[string]*block{
						"volumeOptions": {outZero: map[string]resource.PropertyValue{
							"driverName": str(""), "driverOptions": null(), "labels": emptyList(), "noCopy": null()}},
						"bindOptions":  {defaults: []fieldDefault{{"propagation", str("rprivate")}}},
						"tmpfsOptions": emptyBlock(),
					},
					outZero: map[string]resource.PropertyValue{
						"bindOptions": null(), "readOnly": null(), "source": str(""), "tmpfsOptions": null(),
						"volumeOptions": null()},
				},
				"configs": {defaults: fileRefDefaults, outZero: map[string]resource.PropertyValue{"configName": str("")}},
				"secrets": {defaults: fileRefDefaults, outZero: map[string]resource.PropertyValue{"secretName": str("")}},
			},
		},
		"networksAdvanceds": {outZero: map[string]resource.PropertyValue{
			"aliases": emptyList(), "driverOpts": emptyList(), "id": str(""), "name": str("")}},
		"placement":     emptyBlock(),
		"restartPolicy": emptyBlock(),
	}},
	"mode":           {nested: map[string]*block{"replicated": {defaults: []fieldDefault{{"replicas", num(1)}}}}},
	"updateConfig":   {defaults: updateRollbackDefaults},
	"rollbackConfig": {defaults: updateRollbackDefaults},
	"endpointSpec": {nested: map[string]*block{"ports": {
		defaults: []fieldDefault{{"protocol", str("tcp")}, {"publishMode", str("ingress")}},
		outZero:  map[string]resource.PropertyValue{"name": str("")},
	}}},
	"convergeConfig": {defaults: []fieldDefault{{"delay", str("7s")}, {"timeout", str("3m")}}},
}}

var serviceShape = &tfShape{
	meta: `{"schema_version":"2"}`,
	zero: map[string]resource.PropertyValue{
		"auth": null(), "convergeConfig": null(), "labels": emptyList(), "rollbackConfig": null(),
		"updateConfig": null(),
	},
	delta: &deltaSpec{
		lists: map[string]*deltaSpec{"labels": objectElem},
		blocks: map[string]blockDelta{
			"auth":           {spec: &deltaSpec{}, null: true},
			"convergeConfig": {spec: &deltaSpec{}, null: true},
			"updateConfig":   {spec: &deltaSpec{}, null: true},
			"rollbackConfig": {spec: &deltaSpec{}, null: true},
			"endpointSpec":   {spec: &deltaSpec{lists: map[string]*deltaSpec{"ports": objectElem}}},
			"mode": {spec: &deltaSpec{blocks: map[string]blockDelta{
				"replicated": {spec: &deltaSpec{}, null: true}}}},
			"taskSpec": {spec: &deltaSpec{
				lists: map[string]*deltaSpec{"networksAdvanceds": {lists: map[string]*deltaSpec{"aliases": nil, "driverOpts": nil}}},
				blocks: map[string]blockDelta{
					"containerSpec": {spec: containerSpecDelta},
					"logDriver":     {spec: &deltaSpec{maps: []string{"options"}}, null: true},
					"placement": {spec: &deltaSpec{lists: map[string]*deltaSpec{
						"constraints": nil, "platforms": objectElem, "prefs": nil}}},
					"resources": {spec: &deltaSpec{blocks: map[string]blockDelta{
						"limits": {spec: &deltaSpec{}, null: true}, "reservation": {spec: &deltaSpec{}, null: true}}}},
					"restartPolicy": {spec: &deltaSpec{}},
				},
				renamed: map[string]string{"networksAdvanceds": "networks_advanced"},
			}},
		},
	},
}

var containerSpecDelta = &deltaSpec{
	lists: map[string]*deltaSpec{
		"args": nil, "capAdds": nil, "capDrops": nil, "commands": nil, "groups": nil,
		"configs": objectElem, "secrets": objectElem, "hosts": objectElem, "labels": objectElem,
		"mounts": {blocks: map[string]blockDelta{
			"bindOptions":   {spec: &deltaSpec{}, null: true},
			"tmpfsOptions":  {spec: &deltaSpec{}, null: true},
			"volumeOptions": {spec: &deltaSpec{maps: []string{"driverOptions"}, lists: map[string]*deltaSpec{"labels": objectElem}}, null: true},
		}},
	},
	maps: []string{"env", "sysctl"},
	blocks: map[string]blockDelta{
		"dnsConfig":   {spec: &deltaSpec{renamed: map[string]string{"searches": "search"}}},
		"healthcheck": {spec: &deltaSpec{lists: map[string]*deltaSpec{"tests": nil}, renamed: map[string]string{"tests": "test"}}},
		"privileges":  {spec: &deltaSpec{}, null: true},
	},
	renamed: map[string]string{"capAdds": "cap_add", "capDrops": "cap_drop", "commands": "command"},
}
