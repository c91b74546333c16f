// Shared by the component tests: the CRMs the backend describes.
import type { CrmDescriptor } from "./types";

export const jobadder: CrmDescriptor = {
  id: "jobadder",
  name: "JobAdder",
  env_prefix: "CALLCARD_JOBADDER",
  sign_in: "client_secret",
  redirect_port: 47615,
  contact_sync: "on_each_call",
  imports_contacts: false,
  selected_by_default: true,
};

export const sellsy: CrmDescriptor = {
  id: "sellsy",
  name: "Sellsy",
  env_prefix: "CALLCARD_SELLSY",
  sign_in: "pkce",
  redirect_port: 47616,
  contact_sync: "changed_contacts",
  imports_contacts: true,
  selected_by_default: false,
};

export const crms: CrmDescriptor[] = [jobadder, sellsy];
