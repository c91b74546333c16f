import { mount } from "svelte";
import "../styles.css";
import SettingsForm from "./SettingsForm.svelte";

const target = document.getElementById("app");
if (target) mount(SettingsForm, { target });
