package main

import (
	"strconv"
	"strings"
	"time"
)

// ---- Service: the engine's view -----------------------------------------------------------

type swarmService struct {
	ID      string `json:"ID"`
	Version struct {
		Index uint64 `json:"Index"`
	} `json:"Version"`
	Spec struct {
		Name         string            `json:"Name"`
		Labels       map[string]string `json:"Labels"`
		TaskTemplate struct {
			ContainerSpec *struct {
				Image       string   `json:"Image"`
				Command     []string `json:"Command"`
				Env         []string `json:"Env"`
				StopSignal  string   `json:"StopSignal"`
				StopGrace   *int64   `json:"StopGracePeriod"`
				Isolation   string   `json:"Isolation"`
				Init        *bool    `json:"Init"`
				Healthcheck *struct {
					Test        []string `json:"Test"`
					Interval    int64    `json:"Interval"`
					Timeout     int64    `json:"Timeout"`
					StartPeriod int64    `json:"StartPeriod"`
					Retries     int      `json:"Retries"`
				} `json:"Healthcheck"`
				Mounts []struct {
					Type          string `json:"Type"`
					Source        string `json:"Source"`
					Target        string `json:"Target"`
					ReadOnly      bool   `json:"ReadOnly"`
					VolumeOptions *struct {
						NoCopy       bool              `json:"NoCopy"`
						Labels       map[string]string `json:"Labels"`
						DriverConfig *struct {
							Name    string            `json:"Name"`
							Options map[string]string `json:"Options"`
						} `json:"DriverConfig"`
					} `json:"VolumeOptions"`
					BindOptions *struct {
						Propagation string `json:"Propagation"`
					} `json:"BindOptions"`
				} `json:"Mounts"`
				Configs []swarmFileRef `json:"Configs"`
				Secrets []swarmFileRef `json:"Secrets"`
			} `json:"ContainerSpec"`
			RestartPolicy *struct {
				Condition   string  `json:"Condition"`
				Delay       *int64  `json:"Delay"`
				MaxAttempts *uint64 `json:"MaxAttempts"`
				Window      *int64  `json:"Window"`
			} `json:"RestartPolicy"`
			Placement *struct {
				Constraints []string `json:"Constraints"`
				Preferences []struct {
					Spread struct {
						SpreadDescriptor string `json:"SpreadDescriptor"`
					} `json:"Spread"`
				} `json:"Preferences"`
				MaxReplicas uint64 `json:"MaxReplicas"`
				Platforms   []struct {
					Architecture string `json:"Architecture"`
					OS           string `json:"OS"`
				} `json:"Platforms"`
			} `json:"Placement"`
			Networks []struct {
				Target     string            `json:"Target"`
				Aliases    []string          `json:"Aliases"`
				DriverOpts map[string]string `json:"DriverOpts"`
			} `json:"Networks"`
			ForceUpdate uint64 `json:"ForceUpdate"`
			Runtime     string `json:"Runtime"`
		} `json:"TaskTemplate"`
		Mode struct {
			Replicated *struct {
				Replicas *uint64 `json:"Replicas"`
			} `json:"Replicated"`
			Global *struct{} `json:"Global"`
		} `json:"Mode"`
		UpdateConfig   *swarmUpdateConfig `json:"UpdateConfig"`
		RollbackConfig *swarmUpdateConfig `json:"RollbackConfig"`
		EndpointSpec   *struct {
			Mode  string          `json:"Mode"`
			Ports []swarmPortConf `json:"Ports"`
		} `json:"EndpointSpec"`
	} `json:"Spec"`
	Endpoint struct {
		Spec struct {
			Mode string `json:"Mode"`
		} `json:"Spec"`
		Ports []swarmPortConf `json:"Ports"`
	} `json:"Endpoint"`
	UpdateStatus *struct {
		State   string `json:"State"`
		Message string `json:"Message"`
	} `json:"UpdateStatus"`
}

type swarmFileRef struct {
	ConfigID   string `json:"ConfigID"`
	ConfigName string `json:"ConfigName"`
	SecretID   string `json:"SecretID"`
	SecretName string `json:"SecretName"`
	File       *struct {
		Name string `json:"Name"`
		UID  string `json:"UID"`
		GID  string `json:"GID"`
		Mode uint32 `json:"Mode"`
	} `json:"File"`
}

type swarmUpdateConfig struct {
	Parallelism     uint64  `json:"Parallelism"`
	Delay           int64   `json:"Delay"`
	FailureAction   string  `json:"FailureAction"`
	Monitor         int64   `json:"Monitor"`
	MaxFailureRatio float32 `json:"MaxFailureRatio"`
	Order           string  `json:"Order"`
}

type swarmPortConf struct {
	Name          string `json:"Name"`
	Protocol      string `json:"Protocol"`
	TargetPort    uint32 `json:"TargetPort"`
	PublishedPort uint32 `json:"PublishedPort"`
	PublishMode   string `json:"PublishMode"`
}

// shortDur is upstream's: Duration.String() without a trailing "0s" after minutes or "0m" after
// hours ("1m", "1h", "1m30s", "0s").
func shortDur(ns int64) string {
	s := time.Duration(ns).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ratioString: upstream reads max_failure_ratio back with one decimal (a float32 widened).
func ratioString(r float32) string { return strconv.FormatFloat(float64(r), 'f', 1, 64) }
