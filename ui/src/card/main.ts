import { mount } from "svelte";
import "../styles.css";
import Card from "./Card.svelte";

const target = document.getElementById("app");
if (target) mount(Card, { target });
