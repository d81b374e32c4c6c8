export { AdjRibIn, type Family, type RibChange, type Route } from "./adj-rib-in.js";
