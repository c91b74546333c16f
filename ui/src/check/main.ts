import { mount } from "svelte";
import "../styles.css";
import Check from "./Check.svelte";

const target = document.getElementById("app");
if (target) mount(Check, { target });
