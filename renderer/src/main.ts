// Entry: build the app state with the right transport (IPC or HTTP) and mount the root component.
import { mount } from 'svelte';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import AppView from './App.svelte';
import { detectApi } from './lib/api';
import { App } from './lib/app.svelte';

const app = new App(detectApi());
mount(AppView, { target: document.getElementById('app')!, props: { app } });
void app.start();
