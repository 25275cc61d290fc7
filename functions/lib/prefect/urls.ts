// Where a person sees a flow run: the UI page for an API URL. Prefect Cloud's API
// `https://api.prefect.cloud/api/accounts/A/workspaces/W` has its UI at
// `https://app.prefect.cloud/account/A/workspace/W`; a self-hosted server serves the UI
// at the API URL without its `/api` suffix.
const CLOUD = /^https:\/\/api\.prefect\.cloud\/api\/accounts\/([^/]+)\/workspaces\/([^/]+)\/?$/;

export function flowRunUiUrl(apiUrl: string, flowRunId: string): string {
  const base = apiUrl.replace(/\/+$/, '');
  const cloud = CLOUD.exec(base);
  if (cloud)
    return `https://app.prefect.cloud/account/${cloud[1]}/workspace/${cloud[2]}/runs/flow-run/${flowRunId}`;
  return `${base.replace(/\/api$/, '')}/runs/flow-run/${flowRunId}`;
}
