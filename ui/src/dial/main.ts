import { mount } from "svelte";
import "../styles.css";
import Dial from "./Dial.svelte";

const target = document.getElementById("app");
if (target) mount(Dial, { target });
