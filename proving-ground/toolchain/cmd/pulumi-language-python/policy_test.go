package main

import (
	"context"
	"reflect"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

func TestPluginPythonOptions(t *testing.T) {
	cases := []struct {
		name     string
		options  map[string]any
		isPlugin bool
		want     toolchain.PythonOptions
		wantErr  string
	}{
		{name: "analyzer, no options: auto toolchain, no virtualenv",
			want: toolchain.PythonOptions{Root: "/r", ProgramDir: "/p", Toolchain: toolchain.Auto}},
		{name: "other plugin, no options: virtualenv defaults to venv", isPlugin: true,
			want: toolchain.PythonOptions{Root: "/r", ProgramDir: "/p", Toolchain: toolchain.Auto, Virtualenv: "venv"}},
		{name: "other plugin with poetry: no virtualenv default", isPlugin: true,
			options: map[string]any{"toolchain": "poetry"},
			want:    toolchain.PythonOptions{Root: "/r", ProgramDir: "/p", Toolchain: toolchain.Poetry}},
		{name: "analyzer with every option",
			options: map[string]any{"virtualenv": "../venv", "toolchain": "uv", "typechecker": "pyright"},
			want: toolchain.PythonOptions{Root: "/r", ProgramDir: "/p", Virtualenv: "../venv",
				Toolchain: toolchain.Uv, Typechecker: toolchain.TypeCheckerPyright}},
		{name: "auto is not an accepted value", options: map[string]any{"toolchain": "auto"},
			wantErr: "unsupported toolchain option: auto"},
		{name: "values are case-sensitive", options: map[string]any{"toolchain": "Pip"},
			wantErr: "unsupported toolchain option: Pip"},
		{name: "bad typechecker", options: map[string]any{"typechecker": "pytype"},
			wantErr: "unsupported typechecker option: pytype"},
		{name: "virtualenv must be a string", options: map[string]any{"virtualenv": true},
			wantErr: "virtualenv option must be a string"},
		{name: "toolchain must be a string", options: map[string]any{"toolchain": 1.0},
			wantErr: "toolchain option must be a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := pluginPythonOptions("/r", "/p", c.options, c.isPlugin)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("error = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestPolicyPackArgs(t *testing.T) {
	got := policyPackArgs([]string{"127.0.0.1:1234", "--logtostderr"}, "/packs/p")
	want := []string{"-u", "-m", "pulumi.policy", "127.0.0.1:1234", "--logtostderr", "/packs/p"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPolicyPackEnv(t *testing.T) {
	venv := []string{"PATH=/venv/bin:/usr/bin", "VIRTUAL_ENV=/venv"}
	req := []string{"PATH=/usr/bin", "X=1"}

	got, err := policyPackEnv(append([]string(nil), venv...), nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]string(nil), venv...), req...); !reflect.DeepEqual(got, want) {
		t.Fatalf("no configuration: got %q, want %q", got, want)
	}

	// Empty values are left out; DryRun is always set ("false" is not empty); the engine's
	// environment comes last.
	got, err = policyPackEnv(append([]string(nil), venv...), &pulumirpc.AnalyzerStackConfigureRequest{
		Project: "proj", Stack: "dev", Config: map[string]string{"proj:size": "2", "a:b": "c"},
	}, req)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string(nil), venv...),
		"PULUMI_PROJECT=proj", "PULUMI_STACK=dev", "PULUMI_DRY_RUN=false",
		`PULUMI_CONFIG={"a:b":"c","proj:size":"2"}`)
	want = append(want, req...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	got, err = policyPackEnv(nil, &pulumirpc.AnalyzerStackConfigureRequest{
		Organization: "org", Project: "proj", Stack: "dev", DryRun: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"PULUMI_ORGANIZATION=org", "PULUMI_PROJECT=proj", "PULUMI_STACK=dev", "PULUMI_DRY_RUN=true"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("no config map: got %q, want %q", got, want)
	}
}

type fakeRunPluginServer struct {
	grpc.ServerStream
	sent []*pulumirpc.RunPluginResponse
}

func (s *fakeRunPluginServer) Context() context.Context { return context.Background() }

func (s *fakeRunPluginServer) Send(r *pulumirpc.RunPluginResponse) error {
	s.sent = append(s.sent, r)
	return nil
}

func TestRunPluginRefuses(t *testing.T) {
	opts, err := structpb.NewStruct(map[string]any{"virtualenv": "venv"})
	if err != nil {
		t.Fatal(err)
	}
	info := &pulumirpc.ProgramInfo{RootDirectory: t.TempDir(), ProgramDirectory: t.TempDir(), Options: opts}

	h := &languageHost{}
	err = h.RunPlugin(&pulumirpc.RunPluginRequest{Info: info, Kind: "analyzer"}, &fakeRunPluginServer{})
	if err == nil || err.Error() != "when debugging or running explicitly, must call Handshake before Run" {
		t.Fatalf("no engine address: got %v", err)
	}

	h = &languageHost{engineAddress: "127.0.0.1:1"}
	for _, kind := range []string{"resource", "converter", "tool", ""} {
		err = h.RunPlugin(&pulumirpc.RunPluginRequest{Info: info, Kind: kind}, &fakeRunPluginServer{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("kind %q: got %v, want codes.Unimplemented", kind, err)
		}
	}
	err = h.RunPlugin(&pulumirpc.RunPluginRequest{Info: info, Kind: "analyzer", AttachDebugger: true},
		&fakeRunPluginServer{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("debugger: got %v, want codes.Unimplemented", err)
	}
}
