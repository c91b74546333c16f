import { mount } from "svelte";
import "../styles.css";
import Welcome from "./Welcome.svelte";

const target = document.getElementById("app");
if (target) mount(Welcome, { target });
