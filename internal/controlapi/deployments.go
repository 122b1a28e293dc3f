package controlapi

import (
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Deployments: CreateDeployment, GetDeployments, GetDeployment, UpdateDeployment and DeleteDeployment.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-deployments.html
//
// A deployment freezes the API's routes, integrations, authorizers and models as they are when it is
// made (catalog.API.Deploy); stages that point at it keep serving exactly that until they are pointed
// elsewhere, whatever happens to the API since. Deployments are made at once, so their status is always
// DEPLOYED.

// autoDeployDescription is the description AWS gives the deployments it makes for autoDeploy stages.
const autoDeployDescription = "Automatic deployment triggered by changes to the Api configuration"

// deploymentOut is the Deployment output shape.
type deploymentOut struct {
	AutoDeployed     bool   `json:"autoDeployed"`
	CreatedDate      string `json:"createdDate,omitempty"`
	DeploymentID     string `json:"deploymentId"`
	DeploymentStatus string `json:"deploymentStatus"`
	Description      string `json:"description,omitempty"`
}

func deploymentView(a *catalog.API, d *resource.Deployment) deploymentOut {
	out := deploymentOut{
		AutoDeployed:     d.AutoDeployed,
		CreatedDate:      timestamp(a.DeploymentDates[d.DeploymentID]),
		DeploymentID:     d.DeploymentID,
		DeploymentStatus: "DEPLOYED",
		Description:      d.Description,
	}
	if d.AutoDeployed && d.Description == "" {
		out.Description = autoDeployDescription
	}
	return out
}

// deploymentFor returns a's deployment with id, or the NotFoundException AWS answers.
func deploymentFor(a *catalog.API, id string) (*resource.Deployment, error) {
	if d := a.Deployment(id); d != nil {
		return d, nil
	}
	return nil, notFound("Deployment", "Invalid Deployment identifier specified %s", id)
}

// createDeployment is CreateDeployment: POST /v2/apis/{apiId}/deployments → 201. With stageName, the
// stage (which must exist, and must not have autoDeploy) is pointed at the new deployment.
func (s *server) createDeployment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Description string `json:"description"`
		StageName   string `json:"stageName"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if len(in.Description) > maxDescription {
		return badRequest("description is %d characters long; the limit is %d", len(in.Description), maxDescription)
	}
	var out deploymentOut
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		var stage *resource.Stage
		if in.StageName != "" {
			if stage, err = stageFor(a, in.StageName); err != nil {
				return err
			}
			if stage.AutoDeploy {
				return badRequest("Stage %s has autoDeploy enabled: its deployments are made automatically after every change to the API; turn autoDeploy off to deploy to it explicitly", stage.StageName)
			}
		}
		if len(a.Routes) == 0 {
			return badRequest("At least one route is required before deploying the Api.")
		}
		now := s.cfg.Now()
		d := a.Deploy(in.Description, false, now)
		if stage != nil {
			stage.DeploymentID = d.DeploymentID
			touchStage(a, stage.StageName, now)
		}
		out = deploymentView(a, d)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getDeployments is GetDeployments: GET /v2/apis/{apiId}/deployments, oldest first.
func (s *server) getDeployments(w http.ResponseWriter, r *http.Request) error {
	var items []deploymentOut
	err := s.readState(func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		for i := range a.Deployments {
			items = append(items, deploymentView(a, &a.Deployments[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getDeployment is GetDeployment: GET /v2/apis/{apiId}/deployments/{deploymentId}.
func (s *server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	var out deploymentOut
	err := s.readState(func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		d, err := deploymentFor(a, r.PathValue("deploymentId"))
		if err != nil {
			return err
		}
		out = deploymentView(a, d)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateDeployment is UpdateDeployment: PATCH /v2/apis/{apiId}/deployments/{deploymentId}. Only the
// description changes: what a deployment serves never does.
func (s *server) updateDeployment(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out deploymentOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		d, err := deploymentFor(a, r.PathValue("deploymentId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		in := struct {
			Description string `json:"description"`
		}{d.Description}
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		if len(in.Description) > maxDescription {
			return badRequest("description is %d characters long; the limit is %d", len(in.Description), maxDescription)
		}
		d.Description = in.Description
		out = deploymentView(a, d)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteDeployment is DeleteDeployment: DELETE /v2/apis/{apiId}/deployments/{deploymentId} → 204. A
// deployment a stage serves cannot be deleted, as on AWS.
func (s *server) deleteDeployment(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		d, err := deploymentFor(a, r.PathValue("deploymentId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		id := d.DeploymentID
		for _, st := range a.Stages {
			if st.DeploymentID == id {
				return badRequest("Active stages pointing to this deployment must be moved or deleted")
			}
		}
		kept := a.Deployments[:0]
		for _, dep := range a.Deployments {
			if dep.DeploymentID != id {
				kept = append(kept, dep)
			}
		}
		a.Deployments = kept
		delete(a.DeploymentDates, id)
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
