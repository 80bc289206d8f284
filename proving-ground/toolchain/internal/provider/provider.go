// Package provider is the plumbing the two resource provider stand-ins (cmd/pulumi-resource-docker
// and cmd/pulumi-resource-command) share: serving the plugin, the provider-level RPCs that answer
// the same way in both (GetPluginInfo, GetSchema, Handshake, Cancel), how both turn the engine's
// property structs into property maps and back, the old inputs a Diff compares with, and the
// error for an invoke neither implements. What each provider answers differently (CheckConfig,
// DiffConfig, Configure, the resource RPCs) stays in its command.
package provider

import (
	"context"
	"fmt"

	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	sdkprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// HostClient is the engine's host, for log and status messages.
type HostClient = sdkprovider.HostClient

// Serve runs the plugin: it serves the provider made by newServer over gRPC, prints the port for
// the engine, and exits with the error if serving fails.
func Serve(name string, newServer func(host *HostClient) (pulumirpc.ResourceProviderServer, error)) {
	if err := sdkprovider.Main(name, newServer); err != nil {
		cmdutil.ExitError(err.Error())
	}
}

// Base answers the provider-level RPCs that do not depend on the provider's own logic. Embed it
// (by value) in the provider's server; every RPC neither implements is Unimplemented.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer

	// Name is the package name (`docker`, `command`), Version the plugin's version.
	Name, Version string
	// AcceptSecrets and AcceptResources are what Handshake declares.
	AcceptSecrets, AcceptResources bool
}

func (b *Base) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

func (b *Base) Handshake(
	context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: b.AcceptSecrets, AcceptResources: b.AcceptResources}, nil
}

func (b *Base) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":%q,"version":%q}`, b.Name, b.Version)}, nil
}

func (b *Base) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

// UnsupportedFunction is the error for an invoke of a function the provider does not implement.
func (b *Base) UnsupportedFunction(tok string) error {
	return fmt.Errorf("function %s is not supported by this build of the %s provider", tok, b.Name)
}

// Unmarshal reads a property struct from the engine: unknowns and secrets kept, nulls skipped.
func Unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true, KeepOutputValues: false,
	})
}

// Marshal writes a property map for the engine: unknowns and secrets kept, nulls skipped.
func Marshal(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
}

// DiffOlds are the old inputs a Diff compares with: the recorded inputs, or the old state when
// the engine sends no inputs.
func DiffOlds(req *pulumirpc.DiffRequest) (resource.PropertyMap, error) {
	olds, err := Unmarshal(req.GetOldInputs(), "diff.oldInputs")
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = Unmarshal(req.GetOlds(), "diff.olds"); err != nil {
			return nil, err
		}
	}
	return olds, nil
}
