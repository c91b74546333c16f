import { mount } from "svelte";
import "../styles.css";
import History from "./History.svelte";

const target = document.getElementById("app");
if (target) mount(History, { target });
